// Package templates holds the bridge's pages, embedded in the binary.
package templates

import (
	"embed"
	"html/template"

	"github.com/ftpbridge/ftpbridge/static"
)

//go:embed *.html
var files embed.FS

// Parse parses every page. html/template escapes all data by context; no
// page ever marks data as trusted HTML.
func Parse() (*template.Template, error) {
	return template.New("").Funcs(template.FuncMap{
		"asset":   Asset,
		"modules": func() []string { return static.Modules() },
	}).ParseFS(files, "*.html")
}

// Asset is the address of an embedded static file in this build's
// versioned folder (see static.Version).
func Asset(name string) string { return "/static/v/" + static.Version + "/" + name }
