package seal

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestSealer(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "share.key")
	s, err := LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != keySize {
		t.Fatalf("key file: %v %v", fi, err)
	}
	sealed := s.Seal("id-1", "s3cret pass")
	if bytes.Contains(sealed, []byte("s3cret")) {
		t.Fatal("the sealed secret holds the plaintext")
	}
	// The same key file opens it again (a restart).
	again, err := LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open("id-1", sealed); err != nil || got != "s3cret pass" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := again.Open("id-2", sealed); err == nil {
		t.Error("a secret sealed for one context opened for another")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := again.Open("id-1", sealed); err == nil {
		t.Error("a tampered secret opened")
	}
}

// TestLoadKeyAtOnce starts several "bridges" on one new key file at once:
// each must get the same key (what one seals, every other opens), and no
// temporary file may be left beside it.
func TestLoadKeyAtOnce(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "share.key")
	const n = 16
	sealers := make([]*Sealer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { sealers[i], errs[i] = LoadKey(keyFile) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("bridge %d: %v", i, err)
		}
	}
	sealed := sealers[0].Seal("ctx", "pw")
	for i, s := range sealers {
		if got, err := s.Open("ctx", sealed); err != nil || got != "pw" {
			t.Errorf("bridge %d does not open bridge 0's secret: %q, %v", i, got, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the key's folder: %v", entries)
	}
}
