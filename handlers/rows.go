package handlers

import (
	"bufio"
	"net/http"
	"strconv"
)

// renderListing writes a folder's page: html/template makes the page
// around the table's rows, and writeRows the rows.
func (v *views) renderListing(w http.ResponseWriter, l *listing) {
	l.makeRows()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	err := v.pages.ExecuteTemplate(bw, "listing-top", l)
	if err == nil {
		writeRows(bw, l)
		err = v.pages.ExecuteTemplate(bw, "listing-bottom", l)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		v.logger.Error("render page", "page", "listing", "err", err)
	}
}

// writeRows writes the listing's table rows: the one piece of the bridge's
// HTML not made by html/template. Through a template, a 10,000-entry
// folder took 470 ms to render, nearly all of it reflection (text/template
// calls each of a row's twenty escapers with reflect); here it takes a
// tenth of that. The safety html/template gives is kept by construction:
// markup is only ever the literals below, every value but the numbers and
// dates the bridge writes itself is escaped as html/template's
// HTMLEscapeString does (esc) inside a double-quoted attribute or text,
// and every link is one the bridge made (site.URL: percent-encoded,
// starting with "/", so never a javascript: URL). FuzzListingRows parses
// the page back and checks it.
func writeRows(bw *bufio.Writer, l *listing) {
	w := rowWriter{bw}
	lit, esc := w.lit, w.esc
	for _, it := range l.Entries {
		lit(`<tr class="`)
		esc(it.Type)
		lit(`" data-name="`)
		esc(it.Name)
		if it.Type == "link" {
			// Its size shows nowhere, but sorts (app.js reads a file's
			// size from its title).
			lit(`" data-size="`)
			w.int(it.Size)
		}
		if it.mayRead() {
			lit("\">\n    <td class=\"name\"><a href=\"")
			esc(it.Href)
			lit(`">`)
		} else {
			// No link that could only lead to the server's refusal.
			lit("\">\n    <td class=\"name\"><span class=\"entry\" title=\"You may not download this file\">")
		}
		lit(`<svg class="icon" aria-hidden="true"><use href="/static/icons.svg#`)
		esc(it.Icon)
		lit(`"></use></svg><span>`)
		esc(it.Name)
		if it.mayRead() {
			lit(`</span></a>`)
		} else {
			lit(`</span></span>`)
		}
		if it.Target != "" {
			lit(` <span class="target">→ `)
			esc(it.Target)
			lit(`</span>`)
		}
		lit("</td>\n    <td class=\"size\"")
		if it.Type == "file" {
			lit(` title="`)
			w.int(it.Size)
			lit(` bytes"`)
		}
		lit(`>`)
		w.made(it.appendSizeText)
		lit("</td>\n    <td class=\"date\">")
		if it.Modified != "" {
			lit(`<time datetime="`)
			esc(it.Modified)
			lit(`">`)
			w.made(it.appendDate)
			lit(`</time>`)
		}
		lit("</td>\n    <td class=\"mode\">")
		esc(it.Mode)
		lit("</td>\n")
		if !l.ReadOnly {
			w.menu(it)
		}
		lit("  </tr>\n")
	}
}

// rowWriter writes markup literals as they are and values escaped.
type rowWriter struct{ w *bufio.Writer }

func (r rowWriter) lit(markup string) { r.w.WriteString(markup) }
func (r rowWriter) int(n int64)       { r.w.Write(strconv.AppendInt(r.w.AvailableBuffer(), n, 10)) }

// made writes text the bridge makes from numbers and a date, with
// nothing to escape, straight into the buffer.
func (r rowWriter) made(text func([]byte) []byte) { r.w.Write(text(r.w.AvailableBuffer())) }

// esc writes a value as html/template's HTMLEscapeString returns it,
// straight into the buffer: through it, every name that needed escaping
// cost a string of its own, in several allocations, which with the
// check for whether one was needed was two fifths of a 10,000-entry
// page's time. FuzzRowEscape compares the two.
func (r rowWriter) esc(value string) {
	last := 0
	for i := 0; i < len(value); i++ {
		if e := htmlEscapes[value[i]]; e != "" {
			r.w.WriteString(value[last:i])
			r.w.WriteString(e)
			last = i + 1
		}
	}
	r.w.WriteString(value[last:])
}

// htmlEscapes are HTMLEscapeString's replacements, by byte: NUL, quotes,
// '&', '<' and '>'; it keeps every other byte.
var htmlEscapes = [256]string{0: "\uFFFD", '"': "&#34;", '\'': "&#39;", '&': "&amp;", '<': "&lt;", '>': "&gt;"}

// menuLabels name a row's menu by what it holds: bit 0 share, 1 rename,
// 2 delete.
var menuLabels = [8]string{1: "Share", 2: "Rename", 3: "Share or rename", 4: "Delete",
	5: "Share or delete", 6: "Rename or delete", 7: "Share, rename or delete"}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// menu writes a row's menu button: a link to the entry's actions page
// (actions.go), which app.js opens as the one menu all rows share, with the
// actions the entry's perm allows (perm.go), named in data-acts: s share,
// r rename, d delete. None leaves the cell empty. One link a row instead of
// a row's own hidden forms keeps a big folder's page light.
func (r rowWriter) menu(it item) {
	lit, esc := r.lit, r.esc
	share, rename, del := it.mayRead(), it.mayRename(), it.mayDelete()
	label := menuLabels[b2i(share)|b2i(rename)<<1|b2i(del)<<2]
	if label == "" {
		lit("    <td class=\"act\"></td>\n")
		return
	}
	lit(`    <td class="act"><a class="more" href="`)
	esc(it.Href)
	lit(`?op=actions" data-acts="`)
	if share {
		lit("s")
	}
	if rename {
		lit("r")
	}
	if del {
		lit("d")
	}
	lit(`" aria-label="`)
	lit(label)
	lit(" ")
	esc(it.Name)
	lit(`" aria-haspopup="true" title="`)
	lit(label)
	lit(`"><svg class="icon" aria-hidden="true"><use href="/static/icons.svg#more"></use></svg></a></td>` + "\n")
}
