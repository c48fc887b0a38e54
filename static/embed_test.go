package static

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"testing"
	"testing/fstest"
)

// importFrom finds the module specifier of each static import and export
// ("import { a } from "./dom.js";", "export { b } from "./c.js";",
// "import "./d.js";").
var importFrom = regexp.MustCompile(`(?m)^(?:(?:import|export)\b[^;]*?\bfrom\s*|import\s*)"([^"]*)"`)

// sibling is the only specifier allowed: a module in the same folder.
var sibling = regexp.MustCompile(`^\./[a-z0-9_-]+\.js$`)

// TestModules: the pages load js/main.js as a module, and the browser
// fetches the rest by following its imports. Every import must name a
// module embedded next to it (a relative URL: nothing from another site,
// no bare names that would need a bundler or an import map), and every
// embedded module must be reachable from main.js, or it is dead weight.
func TestModules(t *testing.T) {
	files, err := fs.Glob(FS, "js/*.js")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "js/main.js") {
		t.Fatalf("no js/main.js among the embedded modules %q", files)
	}
	imports := map[string][]string{}
	for _, f := range files {
		src, err := fs.ReadFile(FS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range importFrom.FindAllSubmatch(src, -1) {
			spec := string(m[1])
			if !sibling.MatchString(spec) {
				t.Errorf("%s imports %q, want a sibling module as ./name.js", f, spec)
				continue
			}
			dep := path.Join(path.Dir(f), spec)
			if !slices.Contains(files, dep) {
				t.Errorf("%s imports %q, which is not embedded", f, spec)
			}
			imports[f] = append(imports[f], dep)
		}
	}
	reached := map[string]bool{}
	var walk func(string)
	walk = func(f string) {
		if reached[f] {
			return
		}
		reached[f] = true
		for _, dep := range imports[f] {
			walk(dep)
		}
	}
	walk("js/main.js")
	for _, f := range files {
		if !reached[f] {
			t.Errorf("%s is embedded but main.js never imports it, directly or not", f)
		}
	}
}

// TestContentHash: the version changes with any file's content or name,
// and only with them.
func TestContentHash(t *testing.T) {
	base := fstest.MapFS{"a.css": {Data: []byte("a")}, "js/main.js": {Data: []byte("m")}}
	same := fstest.MapFS{"a.css": {Data: []byte("a")}, "js/main.js": {Data: []byte("m")}}
	changed := fstest.MapFS{"a.css": {Data: []byte("a")}, "js/main.js": {Data: []byte("n")}}
	renamed := fstest.MapFS{"b.css": {Data: []byte("a")}, "js/main.js": {Data: []byte("m")}}
	if contentHash(base) != contentHash(same) {
		t.Error("the same files hash differently")
	}
	for name, other := range map[string]fstest.MapFS{"changed": changed, "renamed": renamed} {
		if contentHash(base) == contentHash(other) {
			t.Errorf("%s files hash the same", name)
		}
	}
}

// nativeDialog finds a call of the browser's own confirm(), alert() or
// prompt(), bare or through window, globalThis or self; a method of the
// same name on another object (dialog.confirm()) is not one.
var nativeDialog = regexp.MustCompile(`(?:^|[^.\w$])(?:(?:window|globalThis|self)\s*\.\s*)?(confirm|alert|prompt)\s*\(`)

// lineComment is a // comment that starts a line or follows a space (not
// the "//" of a URL in a string).
var lineComment = regexp.MustCompile(`(?m)(?:^|\s)//.*$`)

// nativeDialogCalls lists the native dialog calls in a module's source,
// comments left out.
func nativeDialogCalls(src string) []string {
	src = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(src, " ")
	src = lineComment.ReplaceAllString(src, " ")
	var calls []string
	for _, m := range nativeDialog.FindAllStringSubmatch(src, -1) {
		calls = append(calls, m[1]+"()")
	}
	return calls
}

// TestNoNativeDialogs: every question goes through js/dialogs.js, the
// page's own dialog. The browser's confirm(), alert() and prompt() cannot
// be styled, block the script (uploads included) while open, and are not
// the accessible dialog the pages promise.
func TestNoNativeDialogs(t *testing.T) {
	for _, c := range []struct {
		src  string
		want int
	}{
		{`if (!confirm(question)) return;`, 1},
		{`window.alert("x"); globalThis . prompt ("y")`, 2},
		{"x = 1;\nconfirm(\"first on its line\")", 1},
		{`dialog.confirm(); askConfirm("x"); confirmAction("a")`, 0},
		{"// confirm() is gone\n/* alert(1) */ const u = \"http://x\"; // prompt()", 0},
	} {
		if got := nativeDialogCalls(c.src); len(got) != c.want {
			t.Errorf("in %q found %q, want %d calls", c.src, got, c.want)
		}
	}

	files, err := fs.Glob(FS, "js/*.js")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no modules embedded under js/")
	}
	for _, f := range files {
		src, err := fs.ReadFile(FS, f)
		if err != nil {
			t.Fatal(err)
		}
		if calls := nativeDialogCalls(string(src)); len(calls) > 0 {
			t.Errorf("%s calls %q; ask through dialogs.js instead", f, calls)
		}
	}
}
