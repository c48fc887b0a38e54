// Package static holds the CSS, JavaScript and icons, embedded in the binary.
package static

import "embed"

// FS is served under /static/.
//
//go:embed *.css *.svg js/*.js
var FS embed.FS
