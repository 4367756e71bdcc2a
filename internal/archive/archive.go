// Package archive unpacks the archives learners upload for build exercises
// (.zip and .tar.gz) into a directory, within limits, and says what is in
// them: a service with its own Dockerfile, a Go module or a Python app.
//
// An archive is hostile until it is unpacked: it may be larger than it
// says (a zip bomb), name files outside the directory, hold links, devices
// or the same name twice. Unpack refuses each with a sentence naming the
// problem (an apperr naming the field "archive") and writes nothing then:
// it unpacks into a temporary directory beside the destination, through an
// os.Root, and renames it into place only once everything checked out.
package archive

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// Limits bound what one archive may make the server do.
type Limits struct {
	// MaxArchive is the size of the archive itself, in bytes.
	MaxArchive int64
	// MaxEntries is how many entries (files and folders) it may hold.
	MaxEntries int
	// MaxUnpacked is how many bytes its files may hold once unpacked,
	// counted as they are written, not as the archive's headers claim.
	MaxUnpacked int64
}

// DefaultLimits are the limits of an upload.
var DefaultLimits = Limits{MaxArchive: 10 << 20, MaxEntries: 2000, MaxUnpacked: 50 << 20}

// The formats Unpack reads.
const (
	FormatZip   = "zip"
	FormatTarGz = "tar.gz"
)

// The languages an archive may be in: LangDockerfile when it brings its
// own Dockerfile, else the language whose Dockerfile the workbook supplies.
const (
	LangDockerfile = "dockerfile"
	LangGo         = "go"
	LangPython     = "python"
)

// Languages are the values a learner may choose, in the order a form shows
// them.
var Languages = []string{LangGo, LangPython, LangDockerfile}

// Summary says what an unpacked archive holds.
type Summary struct {
	Format string // FormatZip or FormatTarGz
	// Language is what the archive will be built as: the first of Found,
	// or the learner's choice among them (Choose).
	Language string
	// Found lists every entry point at the top, in order of precedence:
	// a Dockerfile, a go.mod with a main package beside it, an app.py.
	Found []string
	Files int   // regular files written
	Bytes int64 // bytes written
	// Stripped is the folder that wrapped everything and was removed
	// (people zip a folder), or "".
	Stripped string
}

// Refusal returns the learner-facing error for an archive refused with
// msg: an Invalid apperr naming the field "archive". cause, if any, is for
// the log.
func Refusal(cause error, msg string) *apperr.Error {
	return &apperr.Error{Code: apperr.Invalid, Message: msg, Fields: map[string]string{"archive": msg}, Err: cause}
}

func refusef(format string, args ...any) *apperr.Error {
	return Refusal(nil, fmt.Sprintf(format, args...))
}

// Unpack reads an archive from r (name is the file's name, for messages;
// the format is told by its first bytes) into dst, which must not exist
// yet but whose parent must. A refused archive is an apperr naming
// "archive", and then nothing is left on disk; any other error is the
// server's own (a full disk, say).
func Unpack(r io.Reader, name, dst string, lim Limits) (Summary, error) {
	lim = lim.orDefault()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxArchive+1))
	if err != nil {
		return Summary{}, Refusal(err, "The archive could not be read to its end; upload it again.")
	}
	if int64(len(data)) > lim.MaxArchive {
		return Summary{}, refusef("The archive is larger than %s; leave out build output, folders you do not need and data files.", sizeText(lim.MaxArchive))
	}
	format, err := sniff(data, name)
	if err != nil {
		return Summary{}, err
	}
	if _, err := os.Lstat(dst); err == nil {
		return Summary{}, fmt.Errorf("archive: %s already exists", dst)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".unpack-*")
	if err != nil {
		return Summary{}, fmt.Errorf("archive: %w", err)
	}
	sum, err := unpackInto(tmp, data, format, lim)
	if err == nil {
		err = finish(tmp, dst, &sum)
	}
	// On success only the emptied wrapper of a stripped folder is left.
	_ = os.RemoveAll(tmp)
	if err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// unpackInto writes the archive's entries under dir.
func unpackInto(dir string, data []byte, format string, lim Limits) (Summary, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Summary{}, fmt.Errorf("archive: %w", err)
	}
	defer root.Close()
	u := &unpacker{root: root, lim: lim, seen: map[string]bool{}}
	if format == FormatZip {
		err = u.zip(data)
	} else {
		err = u.tarGz(data)
	}
	if err != nil {
		return Summary{}, err
	}
	if u.entries == 0 {
		return Summary{}, refusef("The archive is empty.")
	}
	return Summary{Format: format, Files: u.files, Bytes: u.written}, nil
}

// finish strips a folder wrapping everything, finds the entry points and
// moves the result to dst.
func finish(tmp, dst string, sum *Summary) error {
	top := tmp
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if len(ents) == 1 && ents[0].IsDir() {
		top = filepath.Join(tmp, ents[0].Name())
		sum.Stripped = ents[0].Name()
	}
	sum.Found, err = entryPoints(top)
	if err != nil {
		return err
	}
	sum.Language = sum.Found[0]
	if err := os.Rename(top, dst); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

func (l Limits) orDefault() Limits {
	if l.MaxArchive <= 0 {
		l.MaxArchive = DefaultLimits.MaxArchive
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = DefaultLimits.MaxUnpacked
	}
	return l
}

// sniff tells the format by the first bytes; the name only words the
// refusal.
func sniff(data []byte, name string) (string, error) {
	switch {
	case len(data) == 0:
		return "", refusef("The file is empty; choose a .zip or .tar.gz of your service's folder.")
	case bytes.HasPrefix(data, []byte("PK\x03\x04")), bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return FormatZip, nil
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return FormatTarGz, nil
	case len(data) > 262 && string(data[257:262]) == "ustar":
		return "", refusef("That is a plain .tar archive; compress it (tar czf service.tar.gz …) or make a .zip.")
	}
	if name == "" {
		name = "The file"
	} else {
		name = fmt.Sprintf("%q", filepath.Base(name))
	}
	return "", refusef("%s is neither a .zip nor a .tar.gz archive.", name)
}

// sizeText is a byte count in words: "10 MB".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
