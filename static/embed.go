// Package static holds the CSS, JavaScript and icons, embedded in the binary.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"slices"
)

// FS is served under /static/, and under /static/v/{Version}/.
//
//go:embed *.css *.svg js/*.js
var FS embed.FS

// Version names this build's files by a hash of their content. The pages
// load their script and styles from /static/v/{Version}/, so a browser
// never mixes the modules of two builds: the imports of js/main.js are
// relative and so resolve under the same version, and each version's files
// can be cached for good.
var Version = contentHash(FS)

func contentHash(fsys fs.FS) string {
	h := sha256.New()
	// WalkDir goes in lexical order, so the hash is stable.
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		h.Write([]byte(p + "\x00"))
		h.Write(b)
		return err
	})
	if err != nil {
		panic("static: hashing the embedded files: " + err.Error())
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Modules lists the JavaScript modules besides js/main.js, which the pages
// announce with <link rel="modulepreload">: without it the browser finds
// them only by following imports, one round trip per level.
func Modules() []string {
	files, _ := fs.Glob(FS, "js/*.js") // the pattern is valid
	return slices.DeleteFunc(files, func(f string) bool { return f == "js/main.js" })
}
