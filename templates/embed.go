// Package templates holds the bridge's pages, embedded in the binary.
package templates

import (
	"embed"
	"html/template"
)

//go:embed *.html
var files embed.FS

// Parse parses every page. html/template escapes all data by context; no
// page ever marks data as trusted HTML.
func Parse() (*template.Template, error) {
	return template.ParseFS(files, "*.html")
}
