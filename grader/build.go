package grader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/archive"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// MaxBuildsPerDay bounds a learner's build submissions in any 24 hours:
// each keeps its archive (up to 10 MB) in the database.
const MaxBuildsPerDay = 30

// BuildDesign is what the Design column of a build submission holds, so
// pages and exports that show a design show how it was built.
type BuildDesign struct {
	Language string `json:"language"`
}

// SubmitBuild validates a build submission, the learner's service as an
// archive (.zip or .tar.gz), and commits it with its archive and grading
// job. language is the learner's choice ("" to take what the archive
// holds: its own Dockerfile first, then Go, then Python). Invalid input is
// an apperr naming the fields at fault (exercise, language, notes,
// archive); nothing is stored then.
func (g *Grader) SubmitBuild(ctx context.Context, userID int64, labID, exerciseID, language, notes string, data []byte) (store.Submission, error) {
	l, ok := g.reg.Lab(labID)
	if !ok {
		return store.Submission{}, apperr.New(apperr.NotFound, "no lab %q", labID)
	}
	ex, err := buildExercise(l, exerciseID)
	if err != nil {
		return store.Submission{}, err
	}
	if err := g.canSubmitBuild(ctx, userID); err != nil {
		return store.Submission{}, err
	}
	ferrs := labs.FieldErrors{}
	notes, msg := validNotes(notes)
	if msg != "" {
		ferrs["notes"] = msg
	}
	sum, err := inspect(data, language, ex)
	if e, isApp := apperr.As(err); isApp && e.Code == apperr.Invalid {
		maps.Copy(ferrs, e.Fields)
	} else if err != nil {
		return store.Submission{}, err
	}
	if len(ferrs) > 0 {
		return store.Submission{}, apperr.Fields(ferrs)
	}
	design, err := json.Marshal(BuildDesign{Language: sum.Language})
	if err != nil {
		return store.Submission{}, err
	}
	sha := sha256.Sum256(data)
	sub := store.Submission{ID: store.NewSubmissionID(), UserID: userID, Lab: labID, Exercise: ex.ID,
		Design: string(design), Notes: notes, Status: store.StatusQueued, MaxScore: ex.MaxScore(), CreatedAt: g.now()}
	arc := store.SubmissionArchive{Language: sum.Language, Format: sum.Format, Size: int64(len(data)), SHA256: hex.EncodeToString(sha[:]), Data: data}
	if err := g.st.CreateBuildSubmission(ctx, &sub, arc, g.enqueue(sub.ID)); err != nil {
		return store.Submission{}, err
	}
	g.log.Info("build submission queued", "submission", sub.ID, "user", userID, "exercise", ex.ID, "number", sub.Number,
		"language", sum.Language, "bytes", len(data), "files", sum.Files)
	return sub, nil
}

// buildExercise finds lab l's build exercise id ("" for its first).
func buildExercise(l labs.Lab, id string) (labs.Exercise, error) {
	labID := l.Info().ID
	exs := labs.ExercisesOf(l)
	for _, e := range exs {
		if e.Build != nil && (id == "" || e.ID == id) {
			return e, nil
		}
	}
	for _, e := range exs {
		if e.ID == id {
			return labs.Exercise{}, apperr.Fields(map[string]string{"exercise": fmt.Sprintf(
				"%q is a design exercise: submit a design as JSON, not an archive.", id)})
		}
	}
	if id == "" {
		return labs.Exercise{}, apperr.Fields(map[string]string{"exercise": fmt.Sprintf("The %s lab has no build exercise.", labID)})
	}
	return labs.Exercise{}, apperr.Fields(map[string]string{"exercise": fmt.Sprintf(
		"No exercise %q in the %s lab; it has %s.", id, labID, exerciseIDs(exs))})
}

// canSubmitBuild refuses a learner with too many submissions waiting or
// too many build submissions in the last day.
func (g *Grader) canSubmitBuild(ctx context.Context, userID int64) error {
	pending, err := g.st.PendingSubmissions(ctx, userID)
	if err != nil {
		return err
	}
	if pending >= MaxPending {
		return apperr.New(apperr.TooMany,
			"You have %d submissions waiting to be graded; submit again when one has finished.", pending)
	}
	day, err := g.st.BuildSubmissionsSince(ctx, userID, g.now().Add(-24*time.Hour))
	if err != nil {
		return err
	}
	if day >= MaxBuildsPerDay {
		e := apperr.New(apperr.TooMany, "You have made %d build submissions in the last 24 hours, the most a day allows; submit again tomorrow.", day)
		e.RetryAfterSeconds = 3600
		return e
	}
	return nil
}

// inspect unpacks the archive into a scratch folder to judge it, and
// reports what it holds as it will be built.
func inspect(data []byte, language string, ex labs.Exercise) (archive.Summary, error) {
	ferrs := map[string]string{}
	if language != "" && !ex.Offers(language) && language != archive.LangDockerfile {
		ferrs["language"] = "Choose Go, Python or your own Dockerfile."
	}
	if len(data) == 0 {
		ferrs["archive"] = "Choose the .zip or .tar.gz of your service's folder."
	}
	if len(ferrs) > 0 {
		return archive.Summary{}, apperr.Fields(ferrs)
	}
	dir, err := os.MkdirTemp("", "workbook-intake-*")
	if err != nil {
		return archive.Summary{}, err
	}
	defer os.RemoveAll(dir)
	sum, err := archive.Unpack(bytes.NewReader(data), "", filepath.Join(dir, "src"), archive.DefaultLimits)
	if err != nil {
		return archive.Summary{}, err
	}
	sum, err = sum.Choose(language)
	if err != nil {
		return archive.Summary{}, err
	}
	if sum.Language != archive.LangDockerfile && !ex.Offers(sum.Language) {
		return archive.Summary{}, archive.Refusal(nil, fmt.Sprintf("This exercise is not offered in %s.", archive.LanguageName(sum.Language)))
	}
	return sum, nil
}

// ArchiveInfo describes a build submission's archive.
type ArchiveInfo struct {
	Language string `json:"language"`
	Format   string `json:"format"` // zip or tar.gz
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// FileName is the name a download of the archive gets.
func (a ArchiveInfo) FileName(r Result) string {
	ext := ".zip"
	if a.Format == archive.FormatTarGz {
		ext = ".tar.gz"
	}
	return fmt.Sprintf("%s-submission-%d%s", r.Exercise, r.Number, ext)
}

// addBuild fills in a build submission's archive and logs: a submission
// with an archive is one (the registry is asked first only to spare the
// design exercises it knows a query).
func (g *Grader) addBuild(ctx context.Context, sub store.Submission, r *Result) error {
	if _, ex, ok := g.Exercise(sub.Exercise); ok && ex.Build == nil {
		return nil
	}
	a, err := g.st.ArchiveInfo(ctx, sub.ID)
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	r.Kind = labs.KindBuild
	r.Archive = &ArchiveInfo{Language: a.Language, Format: a.Format, Size: a.Size, SHA256: a.SHA256}
	build, logs, err := g.st.RunLogs(ctx, sub.ID, sub.Run)
	if err != nil {
		return err
	}
	r.BuildLog, r.Logs = &build, logs
	return nil
}

// Archive returns the archive of a learner's own build submission, with
// its bytes; another learner's, or a design submission, is not found.
func (g *Grader) Archive(ctx context.Context, id string, userID int64) (store.SubmissionArchive, error) {
	if _, err := g.st.SubmissionOf(ctx, id, userID); err != nil {
		return store.SubmissionArchive{}, err
	}
	return g.st.ArchiveOf(ctx, id)
}

// UnpackArchive writes submission id's archive into dst, which must not
// exist yet (its parent must), and returns what to build it as: go or
// python when the workbook supplies the Dockerfile, dockerfile when the
// archive brings its own. It is the learner's choice when they made one,
// so a Go module beside a Dockerfile may be built as Go. The worker calls
// it before building.
func (g *Grader) UnpackArchive(ctx context.Context, id, dst string) (string, error) {
	a, err := g.st.ArchiveOf(ctx, id)
	if err != nil {
		return "", err
	}
	if _, err := archive.Unpack(bytes.NewReader(a.Data), "", dst, archive.DefaultLimits); err != nil {
		return "", fmt.Errorf("grader: unpacking the archive of %s: %w", id, err)
	}
	return a.Language, nil
}
