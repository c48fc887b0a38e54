package handlers

import "strings"

// The page offers only what the login may do, where the server says: MLSD's
// perm fact (RFC 3659 7.5.5) lists it, a letter per action. Where the
// server gives no perm, every action stays, and the server's refusal, if
// any, is the answer. Hiding is a courtesy, not a guard: the server decides.

// may reports whether perm lets the login do what letter stands for.
func may(perm string, letter byte) bool {
	return perm == "" || strings.IndexByte(perm, letter) >= 0
}

// MayUpload: "c", files may be created in the folder.
func (l *listing) MayUpload() bool { return !l.ReadOnly && may(l.FolderPerm, 'c') }

// MayMkdir: "m", folders may be made in the folder.
func (l *listing) MayMkdir() bool { return !l.ReadOnly && may(l.FolderPerm, 'm') }

// mayRead: "r", a file may be downloaded (a folder's link only opens it).
func (it item) mayRead() bool { return it.Type == "dir" || may(it.Perm, 'r') }

// mayRename: "f".
func (it item) mayRename() bool { return may(it.Perm, 'f') }

// mayDelete: "d".
func (it item) mayDelete() bool { return may(it.Perm, 'd') }
