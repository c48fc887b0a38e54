package share

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Sealer encrypts the FTP passwords shares need, with AES-256-GCM under a
// key kept in a file of its own (mode 0600) beside the store: the store
// file alone, in a backup say, reveals no password.
type Sealer struct {
	aead cipher.AEAD
}

const keySize = 32 // AES-256

// LoadKey reads the key file at path, creating it with a new random key
// (mode 0600) on first run.
func LoadKey(path string) (*Sealer, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key = make([]byte, keySize)
		_, _ = rand.Read(key) // crypto/rand never fails on Linux
		// O_EXCL: two bridges starting at once must not each write a key.
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr != nil {
			return nil, fmt.Errorf("create share key %s: %w", path, ferr)
		}
		_, err = f.Write(key)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("share key %s: %w", path, err)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("share key %s: %d bytes, want %d", path, len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts secret for the share id: a random nonce, then the
// ciphertext. The id is additional data, so a sealed password moved to
// another share does not open.
func (s *Sealer) Seal(id, secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(id))
}

// Open decrypts what Seal made for id.
func (s *Sealer) Open(id string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return "", fmt.Errorf("open the sealed secret of share %s: %w", id, err)
	}
	return string(plain), nil
}
