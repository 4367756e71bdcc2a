package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/archive"
)

// FuzzReadUpload feeds arbitrary multipart bodies to the upload reader: it
// never panics; it refuses with a message naming a field, or keeps fields
// and an archive within their limits; a body cut at the limit is only
// ever "too large".
func FuzzReadUpload(f *testing.F) {
	const boundary = "XyZ"
	var good bytes.Buffer
	w := multipart.NewWriter(&good)
	_ = w.SetBoundary(boundary)
	_ = w.WriteField("exercise", "limiter-build")
	_ = w.WriteField("notes", "n")
	fw, _ := w.CreateFormFile("archive", "service.zip")
	_, _ = fw.Write([]byte("PK\x03\x04"))
	_ = w.Close()
	f.Add(good.Bytes(), uint16(1000))
	f.Add([]byte("--XyZ\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"a.zip\"\r\n\r\nPK\r\n--XyZ--\r\n"), uint16(20))
	f.Add([]byte("--XyZ\r\nContent-Disposition: form-data; name=\"notes\"\r\n\r\nhi\r\n--XyZ\r\n"), uint16(0))
	f.Add([]byte("--XyZ--"), uint16(5))
	f.Fuzz(func(t *testing.T, body []byte, limit uint16) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, int64(limit)+64)
		up, err := readUpload(req)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || len(e.Fields) == 0 {
				t.Fatalf("refused without naming a field: %v", err)
			}
			return
		}
		if int64(len(up.archive)) > archive.DefaultLimits.MaxArchive || len(up.notes) > maxUploadField ||
			len(up.exercise) > maxUploadField || len(up.language) > maxUploadField {
			t.Fatalf("over a limit: archive %d, notes %d", len(up.archive), len(up.notes))
		}
		if up.cut && (!up.tooLarge || up.archive != nil) {
			t.Fatalf("a cut body kept an archive: %+v", up)
		}
	})
}
