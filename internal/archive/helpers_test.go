package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"io"
	"io/fs"
	"testing"
)

// zipEntry is one entry of a hand-made zip: a name, a body and a mode;
// raw entries are written as given (method, declared size and checksum
// too), so a test can make headers lie.
type zipEntry struct {
	name string
	body string
	mode fs.FileMode
	raw  *zip.FileHeader
	data []byte // with raw: the stored bytes
}

func makeZip(tb testing.TB, entries ...zipEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.raw != nil {
			f, err := w.CreateRaw(e.raw)
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := f.Write(e.data); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(f, e.body); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// files is a zip or tar of plain files: name, body, name, body…
func files(kv ...string) []zipEntry {
	var out []zipEntry
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, zipEntry{name: kv[i], body: kv[i+1]})
	}
	return out
}

// tarEntry is one entry of a hand-made tar.
type tarEntry struct {
	h    tar.Header
	body string
}

func tarFiles(kv ...string) []tarEntry {
	var out []tarEntry
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, tarEntry{h: tar.Header{Name: kv[i], Typeflag: tar.TypeReg, Mode: 0o644}, body: kv[i+1]})
	}
	return out
}

func makeTarGz(tb testing.TB, entries ...tarEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.h
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// deflated compresses n zero bytes, the stuff of bombs.
func deflated(tb testing.TB, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := fw.Write(chunk[:k]); err != nil {
			tb.Fatal(err)
		}
		n -= k
	}
	if err := fw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

const (
	pyApp  = "import os\nprint('hi')\n"
	goMod  = "module example.com/svc\n\ngo 1.24\n"
	goMain = "// Command svc serves.\npackage main\n\nfunc main() {}\n"
	docker = "# syntax\nFROM workbook-local/python:3.11\nCOPY . /app\n"
)

func gzipOf(tb testing.TB, s string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if _, err := io.WriteString(gz, s); err != nil {
		tb.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(tb testing.TB, b []byte) []byte {
	tb.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := io.ReadAll(gz)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
