package embedftp

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// WriteSampleTree fills dir with the demo's files: nested folders, a file
// of a few MiB, a picture, names in several scripts and a hidden file.
func WriteSampleTree(dir string) error {
	files := map[string][]byte{
		"README.txt":                        []byte("Welcome to the ftpbridge demo.\n\nThis is a real FTP server running inside the bridge.\nBrowse, download, and (anonymous is writable here) try uploads.\n"),
		"docs/guide.txt":                    []byte("A guide, one folder down.\n"),
		"docs/notes/deep/nested/bottom.txt": []byte("Four folders deep.\n"),
		"international/café menu.txt":       []byte("Croissant, pain au chocolat.\n"),
		"international/日本語のファイル.txt":        []byte("こんにちは\n"),
		"international/Ελληνικά.txt":        []byte("Καλημέρα\n"),
		"odd names/a #?%&;'\"<> b.txt":      []byte("A name with every character that URLs and HTML care about.\n"),
		".hidden-settings":                  []byte("Dot-files are hidden unless you ask for them.\n"),
	}
	big := make([]byte, 5<<20)
	rng := rand.New(rand.NewChaCha8([32]byte{'f', 't', 'p', 'b', 'r', 'i', 'd', 'g', 'e'}))
	for i := 0; i+8 <= len(big); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			big[i+j] = byte(v >> (8 * j))
		}
	}
	files["media/random-5MiB.bin"] = big
	pic, err := samplePNG()
	if err != nil {
		return err
	}
	files["media/gradient.png"] = pic
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("sample tree: %w", err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("sample tree: %w", err)
		}
	}
	return os.MkdirAll(filepath.Join(dir, "uploads"), 0o755)
}

func samplePNG() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 160, 90))
	for y := 0; y < 90; y++ {
		for x := 0; x < 160; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / 160), uint8(y * 255 / 90), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("sample picture: %w", err)
	}
	return b.Bytes(), nil
}
