package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"unicode/utf8"
)

// Bounds on names, so a path fits every file system and a listing stays
// readable.
const (
	maxNameLen  = 1024
	maxNameElem = 255
	maxDepth    = 32
)

// unpacker writes one archive's entries below root, counting them.
type unpacker struct {
	root    *os.Root
	lim     Limits
	seen    map[string]bool // cleaned name → is a folder
	entries int
	files   int
	written int64
}

var errTooLarge = errors.New("archive: unpacked size over the limit")

// count admits one more entry.
func (u *unpacker) count() error {
	u.entries++
	if u.entries > u.lim.MaxEntries {
		return u.tooMany()
	}
	return nil
}

func (u *unpacker) tooMany() error {
	return refusef("The archive holds more than %d files and folders; leave out what the service does not need (dependencies the base image has, build output, .git).", u.lim.MaxEntries)
}

func (u *unpacker) tooLarge() error {
	return Refusal(errTooLarge, fmt.Sprintf("Unpacked, the archive is larger than %s; leave out build output and data files.", sizeText(u.lim.MaxUnpacked)))
}

// clean checks an entry's name and returns it cleaned ("" for the archive's
// root itself, or an entry to skip), and whether it names a folder.
func clean(raw string) (string, bool, error) {
	switch {
	case raw == "":
		return "", false, refusef("The archive has an entry without a name.")
	case strings.ContainsRune(raw, 0):
		return "", false, refusef("The archive has a name with a NUL character in it.")
	case strings.ContainsRune(raw, '\\'):
		return "", false, refusef("The archive has a name with a backslash (%s); make the archive with / between folders (zip or tar on Linux or macOS, or Compress in Windows Explorer).", quote(raw))
	case !utf8.ValidString(raw) || strings.ContainsFunc(raw, isControl):
		return "", false, refusef("The archive has a name with a control character or one that is not UTF-8 (%s).", quote(raw))
	case strings.HasPrefix(raw, "/") || (len(raw) >= 2 && raw[1] == ':'):
		return "", false, refusef("The archive has an absolute path (%s); archive the folder's contents with paths relative to it.", quote(raw))
	case len(raw) > maxNameLen:
		return "", false, refusef("The archive has a name longer than %d characters.", maxNameLen)
	}
	dir := strings.HasSuffix(raw, "/")
	var elems []string
	for _, e := range strings.Split(raw, "/") {
		switch {
		case e == "" || e == ".":
			continue
		case e == "..":
			return "", false, refusef("The archive has a path that climbs out of its folder with .. (%s).", quote(raw))
		case len(e) > maxNameElem:
			return "", false, refusef("The archive has a file or folder name longer than %d characters.", maxNameElem)
		}
		elems = append(elems, e)
	}
	if len(elems) > maxDepth {
		return "", false, refusef("The archive nests folders more than %d deep (%s).", maxDepth, quote(raw))
	}
	if len(elems) == 0 || skipped(elems) {
		return "", dir, nil
	}
	return strings.Join(elems, "/"), dir, nil
}

// skipped reports the litter of macOS archivers: resource forks and
// Finder's folder settings, which no service needs.
func skipped(elems []string) bool {
	last := elems[len(elems)-1]
	return elems[0] == "__MACOSX" || last == ".DS_Store" || strings.HasPrefix(last, "._")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// quote shows a name in a sentence, shortened.
func quote(name string) string {
	if len(name) > 80 {
		name = name[:77] + "…"
	}
	return fmt.Sprintf("%q", name)
}

// claim records name (a folder when dir) and its parent folders, refusing
// a name seen before and a name that is both a file and a folder.
func (u *unpacker) claim(name string, dir bool) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		if isDir, ok := u.seen[p]; ok && !isDir {
			return refusef("The archive has %s both as a file and as a folder.", quote(p))
		}
		u.seen[p] = true
	}
	isDir, ok := u.seen[name]
	switch {
	case !ok:
		u.seen[name] = dir
		return nil
	case isDir && dir:
		return nil // a folder listed twice, or after its files: harmless
	case isDir != dir:
		return refusef("The archive has %s both as a file and as a folder.", quote(name))
	}
	return refusef("The archive has %s twice.", quote(name))
}

// dir creates a folder entry.
func (u *unpacker) dir(name string) error {
	if err := u.claim(name, true); err != nil {
		return err
	}
	if err := u.root.MkdirAll(name, 0o755); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// file writes a regular file from r, counting the bytes actually written
// against the limit; exec keeps the executable bit.
func (u *unpacker) file(name string, r io.Reader, exec bool) error {
	if err := u.claim(name, false); err != nil {
		return err
	}
	if d := path.Dir(name); d != "." {
		if err := u.root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	mode := fs.FileMode(0o644)
	if exec {
		mode = 0o755
	}
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, u.lim.MaxUnpacked-u.written+1))
	u.written += n
	if cerr := f.Close(); err == nil && cerr != nil {
		return fmt.Errorf("archive: %w", cerr)
	}
	if u.written > u.lim.MaxUnpacked {
		return u.tooLarge()
	}
	if err != nil {
		return u.readErr(err)
	}
	u.files++
	return nil
}

// readErr words a failure while copying a file: the learner's archive is
// damaged or too large, unless the disk failed.
func (u *unpacker) readErr(err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, errTooLarge):
		return u.tooLarge()
	case errors.As(err, &pe):
		return fmt.Errorf("archive: %w", err)
	}
	return damaged(err)
}

func damaged(err error) error {
	return Refusal(err, "The archive is damaged or cut short; make it again and upload the whole file.")
}
