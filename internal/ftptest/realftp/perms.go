package realftp

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// prepareTree makes root servable: the daemons switch to unprivileged users
// (ftp for anonymous, the local user otherwise), and a t.TempDir() is 0700
// under a 0700 parent, which neither could enter.
//
// Directories get a+rx and files a+r so anonymous can list and download
// everything (vsftpd only serves world-readable files to anonymous). When
// owned, everything is also chowned to uid:gid so the local user can modify
// the tree. Root itself loses group/other write: vsftpd refuses to chroot
// anonymous into a directory the anonymous user could write to.
func prepareTree(root string, uid, gid int, owned bool) error {
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("making parents of %s traversable: %w", root, err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, st.Mode()|0o001); err != nil {
				return fmt.Errorf("making %s traversable: %w", dir, err)
			}
		}
		if dir == "/" || dir == filepath.Dir(dir) {
			break
		}
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if owned {
			if err := os.Lchown(path, uid, gid); err != nil {
				return fmt.Errorf("chown %s: %w", path, err)
			}
		}
		var want fs.FileMode
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return nil // link modes are meaningless; the target is visited if inside root
		case d.IsDir():
			want = 0o755
		case d.Type().IsRegular():
			want = 0o644
		default:
			return nil // sockets, fifos, devices: leave alone
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode() | want
		if path == root {
			mode &^= 0o022
		}
		if mode != info.Mode() {
			if err := os.Chmod(path, mode); err != nil {
				return fmt.Errorf("chmod %s: %w", path, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("preparing %s: %w", root, err)
	}
	return nil
}
