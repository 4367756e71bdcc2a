package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
)

// zip unpacks a zip archive.
func (u *unpacker) zip(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return damaged(err) // names are judged below, with a better sentence
	}
	if len(zr.File) > u.lim.MaxEntries {
		return u.tooMany()
	}
	for _, f := range zr.File {
		if err := u.zipEntry(f); err != nil {
			return err
		}
	}
	return nil
}

func (u *unpacker) zipEntry(f *zip.File) error {
	if err := u.count(); err != nil {
		return err
	}
	name, dir, err := clean(f.Name)
	if err != nil {
		return err
	}
	mode := f.Mode()
	if err := refuseSpecial(f.Name, mode); err != nil {
		return err
	}
	if name == "" {
		return nil
	}
	if dir || mode.IsDir() {
		return u.dir(name)
	}
	if f.Flags&0x1 != 0 {
		return refusef("The archive's %s is encrypted; make the archive without a password.", quote(f.Name))
	}
	rc, err := f.Open()
	if errors.Is(err, zip.ErrAlgorithm) {
		return refusef("The archive's %s is compressed in a way the workbook cannot read; make the zip with the usual compression (deflate).", quote(f.Name))
	}
	if err != nil {
		return damaged(err)
	}
	defer rc.Close()
	return u.file(name, rc, mode&0o111 != 0)
}

// refuseSpecial refuses links, devices, pipes and sockets.
func refuseSpecial(name string, mode fs.FileMode) error {
	switch {
	case mode&fs.ModeSymlink != 0:
		return refusef("The archive has a link (%s); put the file itself in the archive.", quote(name))
	case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
		return refusef("The archive has a device, pipe or socket (%s); only files and folders are accepted.", quote(name))
	}
	return nil
}

// tarGz unpacks a gzip-compressed tar archive. The decompressed stream is
// bounded too, so headers, padding and skipped entries cannot make the
// server inflate without end.
func (u *unpacker) tarGz(data []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return damaged(err)
	}
	defer gz.Close()
	stream := &boundedReader{r: gz, left: 2*u.lim.MaxUnpacked + 1<<20}
	tr := tar.NewReader(stream)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, errTooLarge) {
			return u.tooLarge()
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return damaged(err)
		}
		if err := u.tarEntry(h, tr); err != nil {
			return err
		}
	}
}

func (u *unpacker) tarEntry(h *tar.Header, r io.Reader) error {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil // settings for the entries that follow, not an entry
	}
	if err := u.count(); err != nil {
		return err
	}
	name, dir, err := clean(h.Name)
	if err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeSymlink, tar.TypeLink:
		return refusef("The archive has a link (%s); put the file itself in the archive.", quote(h.Name))
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return refusef("The archive has a device or pipe (%s); only files and folders are accepted.", quote(h.Name))
	case tar.TypeDir:
		if name == "" {
			return nil
		}
		return u.dir(name)
	case tar.TypeReg: // the reader reports the old TypeRegA as this
		if dir {
			return refusef("The archive has a file whose name ends in / (%s).", quote(h.Name))
		}
		if name == "" {
			return nil // macOS litter, skipped unread
		}
		return u.file(name, r, h.Mode&0o111 != 0)
	}
	return refusef("The archive has an entry of a kind the workbook does not accept (%s); only files and folders are.", quote(h.Name))
}

// boundedReader fails with errTooLarge once more than left bytes were read.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
