// Package seal keeps secrets the bridge must store, FTP passwords above
// all, encrypted under one key file: shares seal theirs into their store,
// sessions into their records, so that neither store alone reveals one.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Sealer encrypts the FTP passwords shares and sessions keep, with
// AES-256-GCM under a key kept in a file of its own (mode 0600) beside the
// share store: a store alone, in a backup say, reveals no password.
type Sealer struct {
	aead     cipher.AEAD
	key      []byte
	proofKey []byte // for Proof: derived from the key, never the key itself
}

// Derive makes a key for another use from the sealing key, so that one key
// file serves them all and none of them reveals another.
func (s *Sealer) Derive(label string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

const keySize = 32 // AES-256

// LoadKey reads the key file at path, creating it with a new random key
// (mode 0600) on first run.
func LoadKey(path string) (*Sealer, error) { return loadKey(path, true) }

// ReadKey reads the key file at path, which must exist: a key that several
// bridges share must be the one file they were all given, not one that
// each would make for itself if its copy were missing.
func ReadKey(path string) (*Sealer, error) { return loadKey(path, false) }

func loadKey(path string, create bool) (*Sealer, error) {
	key, err := os.ReadFile(path)
	if create && errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("key %s: %d bytes, want %d", path, len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &Sealer{aead: aead, key: key}
	s.proofKey = s.Derive("ftpbridge share password proof")
	return s, nil
}

// createKey writes a new random key to path, unless another process got
// there first, whose key it then reads. Bridges of a cluster that start at
// once on one new key file must all end up with the same key: the key is
// written whole under a temporary name and linked into place, which fails
// if the path exists, so no bridge ever reads a half-written file.
func createKey(path string) ([]byte, error) {
	key := make([]byte, keySize)
	_, _ = rand.Read(key) // crypto/rand never fails on Linux
	f, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(key)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	} else if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return key, nil
}

// Seal encrypts secret bound to context (a share's or a session's, each
// naming what the secret belongs to, so it opens nowhere else): a random
// nonce, then the ciphertext, with context as additional data.
func (s *Sealer) Seal(context, secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(context))
}

// Open decrypts what Seal made for the same context.
func (s *Sealer) Open(context string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return "", fmt.Errorf("open a sealed secret: %w", err)
	}
	return string(plain), nil
}

// Proof is what a share's password cookie holds once the password was
// given: an HMAC of the share's ID and password hash under the store's
// key, so it proves the password without holding it, works only for its
// own share, and stops working when the password changes.
func (s *Sealer) Proof(id string, passwordHash []byte) string {
	m := hmac.New(sha256.New, s.proofKey)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write(passwordHash)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
