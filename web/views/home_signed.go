package views

import (
	"strconv"
	"time"
)

// SignedInHome is the home of a signed-in person: a learner's or an
// instructor's, whichever they are.
type SignedInHome struct {
	DueCards   int
	Learner    *LearnerHome
	Instructor *InstructorHome
}

// LearnerHome is what a learner has in hand.
type LearnerHome struct {
	Continue *HomeLesson
	// Opened says Continue is a lesson the learner started, not the next
	// one to begin.
	Opened             bool
	Completed, Lessons int
	Assignments        []HomeAssignment
	Instances          []RunningInstance
	Scores             []HomeScore
	Grading            bool
}

// HomeAssignment is an assignment of one of the learner's classes.
type HomeAssignment struct {
	Title, Href string
	ClassName   string
	Due         *time.Time
	Done, Late  bool
}

// RunningInstance is one of a learner's running lab instances, of any lab.
type RunningInstance struct {
	Lab, LabTitle string
	ID            string
	Created       time.Time
}

// Href is the instance on its lab's page.
func (r RunningInstance) Href() string { return "/labs/" + r.Lab + "#instance-" + r.ID }

// StopURL is where the instance's Stop button posts.
func (r RunningInstance) StopURL() string { return "/labs/" + r.Lab + "/instances/" + r.ID + "/stop" }

// HomeScore is a learner's best graded score on an exercise.
type HomeScore struct {
	Title, Href string
	Score, Max  int
	Attempts    int
}

// InstructorHome is what an instructor looks after.
type InstructorHome struct {
	Classes  []HomeClass
	Waiting  int
	Upcoming []HomeDue
}

// HomeClass is one of an instructor's classes.
type HomeClass struct {
	ID      int64
	Name    string
	Members int
}

// HomeDue is an assignment due soon in one of an instructor's classes.
type HomeDue struct {
	Title     string
	ClassID   int64
	ClassName string
	Due       time.Time
}

func classHref(id int64) string { return "/classes/" + strconv.FormatInt(id, 10) }

// plural is "1 card" or "3 cards".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// pluralWord is one or many as n asks, without the number.
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// startedText is when an instance started, as a clock time.
func startedText(t time.Time) string { return "started " + t.UTC().Format("15:04 UTC") }
