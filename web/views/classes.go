package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/gradebook"
)

// ClassesPage is the model of /classes.
type ClassesPage struct {
	Staff, Admin    bool
	Taught, Joined  []ClassRef
	Name, NameError string
	Code, CodeError string
}

// JoinPage is the model of /join/{code}.
type JoinPage struct {
	Class    ClassRef
	SignedIn bool
}

// AssignOption is an exercise or quiz an instructor can set.
type AssignOption struct{ Value, Label string }

// GradebookPage is the model of /classes/{id} for its instructor.
type GradebookPage struct {
	Class ClassRef
	Book  gradebook.Book
	// Distributions describe the whole class, before any filter.
	Distributions []gradebook.Distribution
	JoinURL       string
	Query, Only   string
	Sort          string
	Desc          bool
	Options       []AssignOption
	Now           time.Time
}

// sortLink is the URL that sorts the gradebook by key, flipping the
// direction when it already is.
func (m GradebookPage) sortLink(key string) string {
	q := url.Values{}
	q.Set("sort", key)
	if m.Sort == key && !m.Desc {
		q.Set("dir", "desc")
	}
	if m.Query != "" {
		q.Set("q", m.Query)
	}
	if m.Only != "" {
		q.Set("only", m.Only)
	}
	return classURL(m.Class) + "?" + q.Encode()
}

func (m GradebookPage) ariaSort(key string) string {
	if m.Sort != key && !(key == "email" && m.Sort == "") {
		return "none"
	}
	if m.Desc {
		return "descending"
	}
	return "ascending"
}

// LearnerClassPage is the model of /classes/{id} for a learner in it.
type LearnerClassPage struct {
	Class   ClassRef
	Columns []gradebook.Column
	Row     *gradebook.Row
	Now     time.Time
}

// SubmissionReviewPage is the model of an instructor's view of a submission.
type SubmissionReviewPage struct {
	Class      ClassRef
	Learner    string // the learner's email
	Submission SubmissionPage
	Review     ReviewMark
	Reviewer   string
	Score      string
	Reason     string
	Feedback   string
	Errors     map[string]string
}

// UsersPage is the model of /admin/users.
type UsersPage struct {
	Users []UserRow
	Me    int64
	// Invitations are the ones waiting to be used.
	Invitations []InvitationRow
	// NewInvite is the link of an invitation just made, shown this once.
	NewInvite, NewInviteEmail string
	// The invitation form as submitted, with its errors.
	InviteEmail, InviteRole string
	InviteErrors            FormErrors
}

func classURL(c ClassRef) string { return "/classes/" + strconv.FormatInt(c.ID, 10) }

// shortTitle is a gradebook column's title short enough for three
// assignments to fit a laptop's width: no "A"/"An"/"The", at most about
// 16 characters, cut at a word with an ellipsis. The full title goes in
// the abbreviation's title.
func shortTitle(t string) string {
	const limit = 16
	quiz := strings.HasPrefix(t, "Quiz: ")
	t = strings.TrimPrefix(t, "Quiz: ")
	for _, a := range []string{"A ", "An ", "The "} {
		t = strings.TrimPrefix(t, a)
	}
	if quiz {
		t = "Quiz: " + t
	}
	if len([]rune(t)) <= limit {
		return t
	}
	out := ""
	for _, w := range strings.Fields(t) {
		if out != "" && len([]rune(out+" "+w)) > limit {
			break
		}
		if out == "" {
			out = w
		} else {
			out += " " + w
		}
	}
	if r := []rune(out); len(r) > limit {
		out = string(r[:limit])
	}
	return strings.TrimRight(out, ",:;") + "…"
}

func dueText(t *time.Time) string {
	if t == nil {
		return "no due date"
	}
	return "due " + t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func cellText(c gradebook.Cell) string {
	if c.Score == nil {
		if c.Attempts > 0 {
			return "0"
		}
		return "–"
	}
	return strconv.Itoa(*c.Score)
}
