package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SubmissionArchive is the archive a learner uploaded for a build
// exercise, kept with its submission.
type SubmissionArchive struct {
	SubmissionID string `gorm:"primaryKey"`
	// Language is what it is built as: go, python, or dockerfile when it
	// brings its own Dockerfile.
	Language  string
	Format    string // zip or tar.gz
	Size      int64
	SHA256    string `gorm:"column:sha256"` // hex
	Data      []byte
	CreatedAt time.Time
}

// SubmissionLog is what one grading run of a build submission printed.
type SubmissionLog struct {
	SubmissionID string `gorm:"primaryKey"`
	Run          int    `gorm:"primaryKey"`
	BuildLog     string
	ReplicaLogs  string // JSON object: replica name → text
	UpdatedAt    time.Time
}

// Bounds on what is kept of a run's output: the page and the API show it
// whole, so each text keeps its last MaxLogBytes.
const (
	MaxLogBytes    = 64 << 10
	maxReplicaLogs = 16
)

// CreateBuildSubmission is CreateSubmission for a build exercise: the
// submission, its archive and its grading job commit together or not at
// all.
func (s *Store) CreateBuildSubmission(ctx context.Context, sub *Submission, arc SubmissionArchive,
	enqueue func(ctx context.Context, tx *sql.Tx) (int64, error)) error {
	arc.CreatedAt = sub.CreatedAt.UTC()
	return s.createSubmission(ctx, sub, func(tx *gorm.DB) error {
		arc.SubmissionID = sub.ID
		return tx.Create(&arc).Error
	}, enqueue)
}

// ArchiveOf returns submission id's archive with its bytes: for the
// grader's worker, and for a download once the caller has checked who
// may have it.
func (s *Store) ArchiveOf(ctx context.Context, id string) (SubmissionArchive, error) {
	var a SubmissionArchive
	err := s.db.WithContext(ctx).Where("submission_id = ?", id).Take(&a).Error
	return a, mapErr(err, "archive")
}

// ArchiveInfo returns what a page says of submission id's archive, without
// its bytes.
func (s *Store) ArchiveInfo(ctx context.Context, id string) (SubmissionArchive, error) {
	var a SubmissionArchive
	err := s.db.WithContext(ctx).Omit("data").Where("submission_id = ?", id).Take(&a).Error
	return a, mapErr(err, "archive")
}

// BuildSubmissionsSince counts a learner's build submissions made at or
// after since, for the daily bound on stored archives.
func (s *Store) BuildSubmissionsSince(ctx context.Context, userID int64, since time.Time) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&SubmissionArchive{}).
		Joins("JOIN submissions ON submissions.id = submission_archives.submission_id").
		Where("submissions.user_id = ? AND submission_archives.created_at >= ?", userID, since.UTC()).Count(&n).Error
	return n, mapErr(err, "archives")
}

// SaveRunLogs records what run of submission id printed: the build's
// output and each replica's, each cut to its last MaxLogBytes and made
// valid text. It replaces what an earlier save of the run recorded and
// drops the rows of earlier runs. The grader's worker calls it.
func (s *Store) SaveRunLogs(ctx context.Context, id string, run int, build string, replicas map[string]string, at time.Time) error {
	kept := map[string]string{}
	names := make([]string, 0, len(replicas))
	for name := range replicas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names[:min(len(names), maxReplicaLogs)] {
		kept[shortName(name)] = LogText(replicas[name], MaxLogBytes)
	}
	js, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	row := SubmissionLog{SubmissionID: id, Run: run, BuildLog: LogText(build, MaxLogBytes), ReplicaLogs: string(js), UpdatedAt: at.UTC()}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "submission_id"}, {Name: "run"}},
			DoUpdates: clause.AssignmentColumns([]string{"build_log", "replica_logs", "updated_at"}),
		}).Create(&row).Error; err != nil {
			return err
		}
		return tx.Where("submission_id = ? AND run < ?", id, run).Delete(&SubmissionLog{}).Error
	})
	return mapErr(err, "logs")
}

// RunLogs returns what run of submission id printed: the build's output
// and each replica's; empty when nothing was recorded.
func (s *Store) RunLogs(ctx context.Context, id string, run int) (build string, replicas map[string]string, err error) {
	var rows []SubmissionLog
	if err := s.db.WithContext(ctx).Where("submission_id = ? AND run = ?", id, run).Limit(1).Find(&rows).Error; err != nil {
		return "", nil, mapErr(err, "logs")
	}
	replicas = map[string]string{}
	if len(rows) == 0 {
		return "", replicas, nil
	}
	if rows[0].ReplicaLogs != "" {
		if err := json.Unmarshal([]byte(rows[0].ReplicaLogs), &replicas); err != nil {
			return "", nil, err
		}
	}
	return rows[0].BuildLog, replicas, nil
}

// LogText is s as a database keeps text (valid UTF-8, no NUL), cut to its
// last max bytes at a line's start when one is near, marked where cut.
func LogText(s string, max int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= max {
		return s
	}
	const mark = "[earlier output cut]\n"
	cut := s[len(s)-max+len(mark):]
	if i := strings.IndexByte(cut, '\n'); i >= 0 && i < len(cut)/4 {
		cut = cut[i+1:]
	}
	for len(cut) > 0 && !utf8.RuneStart(cut[0]) {
		cut = cut[1:]
	}
	return mark + cut
}

// shortName is a replica's name as kept: valid text of at most 100 bytes.
func shortName(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	for len(s) > 100 {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}
