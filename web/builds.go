package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/archive"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/web/views"
)

// Build submissions arrive as multipart/form-data: the fields exercise,
// language and notes, and the file archive. The API reads at most
// maxUploadBody bytes (a larger body is a 413 naming archive, answered
// before it is read when its length is declared); an archive over the
// archive limit in a body within it is a 422 naming archive. The page's
// form reads on to maxFormUpload, so a browser sending a large file still
// gets the form back with the message.
const (
	maxUploadBody  = 11 << 20
	maxFormUpload  = 64 << 20
	maxUploadField = 64 << 10
	maxUploadParts = 16
)

// upload is a build submission as a multipart request carries it.
type upload struct {
	exercise, language, notes string
	archive                   []byte
	// tooLarge: the archive (or the whole body) was over the limit and its
	// bytes were dropped; the fields read before it are kept.
	tooLarge bool
	// cut: the body ended at the reader's limit before the form did.
	cut bool
}

func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

var errUploadForm = apperr.Fields(map[string]string{"archive": "Send multipart/form-data with the file archive and the fields exercise, language and notes."})

// tooLargeMessage is the sentence for an archive over the limit.
func tooLargeMessage() string {
	return fmt.Sprintf("The archive is larger than %d MB; leave out build output, folders you do not need and data files.", archive.DefaultLimits.MaxArchive>>20)
}

// readUpload reads a multipart body (already bounded by a MaxBytesReader)
// part by part: text fields up to maxUploadField bytes, the archive up to
// the archive limit, anything else skipped.
func readUpload(r *http.Request) (upload, error) {
	var up upload
	mr, err := r.MultipartReader()
	if err != nil {
		return up, errUploadForm
	}
	for range maxUploadParts {
		p, err := mr.NextPart()
		if err == io.EOF {
			return up, nil
		}
		if err != nil {
			return up.end(err)
		}
		if err := up.readPart(p); err != nil {
			return up.end(err)
		}
	}
	return up, apperr.Fields(map[string]string{"archive": fmt.Sprintf("The form has more than %d parts.", maxUploadParts)})
}

// end reports how reading stopped: a body cut at the limit keeps what
// was read, as too large; anything else could not be read.
func (up upload) end(err error) (upload, error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		up.tooLarge, up.cut, up.archive = true, true, nil
		return up, nil
	}
	if e, ok := apperr.As(err); ok {
		return up, e
	}
	msg := "The upload could not be read to its end; send it again."
	return up, &apperr.Error{Code: apperr.Invalid, Message: msg, Fields: map[string]string{"archive": msg}, Err: err}
}

func (up *upload) readPart(p *multipart.Part) error {
	name := p.FormName()
	switch name {
	case "archive":
		return up.readArchive(p)
	case "exercise", "language", "notes":
		b, err := io.ReadAll(io.LimitReader(p, maxUploadField+1))
		if err != nil {
			return err
		}
		v := strings.TrimSpace(string(b[:min(len(b), maxUploadField)]))
		switch name {
		case "exercise":
			up.exercise = v
		case "language":
			up.language = v
		default:
			up.notes = v
		}
		if len(b) > maxUploadField {
			return apperr.Fields(map[string]string{name: fmt.Sprintf("At most %d KB.", maxUploadField>>10)})
		}
	}
	_, err := io.Copy(io.Discard, p)
	return err
}

// readArchive keeps the archive part, or only notes it was too large and
// reads past it, so the fields after it are read too.
func (up *upload) readArchive(p *multipart.Part) error {
	if up.archive != nil || up.tooLarge {
		return apperr.Fields(map[string]string{"archive": "Send one archive."})
	}
	b, err := io.ReadAll(io.LimitReader(p, archive.DefaultLimits.MaxArchive+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > archive.DefaultLimits.MaxArchive {
		up.tooLarge = true
		_, err = io.Copy(io.Discard, p)
		return err
	}
	up.archive = append([]byte{}, b...)
	return nil
}

// apiSubmitBuild takes a build submission through the API: 202 as for a
// design, 422 naming the fields of a refused one (archive above all), 413
// naming archive for a body over maxUploadBody; nothing is stored unless
// it is accepted.
func (s *Server) apiSubmitBuild(c *gin.Context) {
	if c.Request.ContentLength > maxUploadBody {
		s.uploadTooLarge(c)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxUploadBody)
	up, err := readUpload(c.Request)
	switch {
	case err != nil:
		s.fail(c, err)
		return
	case up.cut:
		s.uploadTooLarge(c)
		return
	case up.tooLarge:
		s.fail(c, archive.Refusal(nil, tooLargeMessage()))
		return
	}
	sub, err := s.grader.SubmitBuild(c.Request.Context(), currentUser(c).ID, c.Param("lab"), up.exercise, up.language, up.notes, up.archive)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.accepted(c, sub)
}

func (s *Server) uploadTooLarge(c *gin.Context) {
	msg := tooLargeMessage()
	s.failWith(c, http.StatusRequestEntityTooLarge, string(apperr.Invalid), msg, map[string]string{"archive": msg})
}

// submitBuildFromForm takes a build submission from the exercise page; a
// refusal re-renders the form with the message beside the field and the
// language and notes kept (a browser cannot be handed a file back).
func (s *Server) submitBuildFromForm(c *gin.Context, l labs.Lab, ex labs.Exercise) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormUpload)
	up, err := readUpload(c.Request)
	var sub store.Submission
	switch {
	case err != nil:
	case up.tooLarge:
		err = archive.Refusal(nil, tooLargeMessage())
	default:
		sub, err = s.grader.SubmitBuild(c.Request.Context(), currentUser(c).ID, l.Info().ID, ex.ID, up.language, up.notes, up.archive)
	}
	if err != nil {
		s.formRefused(c, l, ex, err, func(m *views.ExercisePage) {
			m.Notes, m.Language = up.notes, up.language
		})
		return
	}
	c.Redirect(http.StatusSeeOther, "/submissions/"+sub.ID)
}

// ownArchive is the learner's download of their own submission's archive;
// anyone else's, or a design submission, is the one 404.
func (s *Server) ownArchive(c *gin.Context) {
	res, ok := s.submissionOr404(c)
	if !ok {
		return
	}
	a, err := s.store.ArchiveOf(c.Request.Context(), res.ID)
	if err != nil {
		s.failOr404(c, err)
		return
	}
	s.sendArchive(c, a, fmt.Sprintf("%s-submission-%d", res.Exercise, res.Number))
}

// classArchive is a class's staff's download of a learner's archive, on
// the same terms as the review page.
func (s *Server) classArchive(c *gin.Context) {
	_, sub, ok := s.classSubmission(c)
	if !ok {
		return
	}
	a, err := s.store.ArchiveOf(c.Request.Context(), sub.ID)
	if err != nil {
		s.failOr404(c, err)
		return
	}
	who := "learner"
	if u, err := s.store.UserByID(c.Request.Context(), sub.UserID); err == nil {
		who, _, _ = strings.Cut(u.Email, "@")
	}
	s.sendArchive(c, a, fmt.Sprintf("%s-%s-%d", sub.Exercise, who, sub.Number))
}

var unsafeFileName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// sendArchive answers with an archive as a download named base plus the
// format's extension.
func (s *Server) sendArchive(c *gin.Context, a store.SubmissionArchive, base string) {
	ct, ext := "application/zip", ".zip"
	if a.Format == archive.FormatTarGz {
		ct, ext = "application/gzip", ".tar.gz"
	}
	name := strings.Trim(unsafeFileName.ReplaceAllString(base, "-"), "-.") + ext
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	c.Header("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, ct, a.Data)
}
