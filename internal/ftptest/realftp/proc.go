package realftp

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// killTree kills pid and all its descendants. Killing the process group is
// not enough: vsftpd puts every session in a session (and process group) of
// its own, so an open client connection would keep a session process alive
// after the listener is gone. Descendants are found through /proc, and each
// is stopped before the next scan so that none can fork a child that escapes
// by being reparented to init once its parent dies.
func killTree(pid int) {
	tree := map[int]bool{pid: true}
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	for {
		var found []int
		for child, parent := range parentMap() {
			if tree[parent] && !tree[child] {
				found = append(found, child)
			}
		}
		if len(found) == 0 {
			break
		}
		for _, c := range found {
			_ = syscall.Kill(c, syscall.SIGSTOP)
			tree[c] = true
		}
	}
	for p := range tree {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// hasChildren reports whether pid has a child process (a zombie counts:
// it is not reaped yet).
func hasChildren(pid int) bool {
	for _, parent := range parentMap() {
		if parent == pid {
			return true
		}
	}
	return false
}

// parentMap returns pid -> parent pid for every process visible in /proc.
func parentMap() map[int]int {
	m := map[int]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return m
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid ...", where comm may itself contain spaces
		// and parentheses: parse after the last ')'.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			m[pid] = ppid
		}
	}
	return m
}
