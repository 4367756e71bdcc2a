package views

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// LabCard is a lab on the labs index.
type LabCard struct {
	Info labs.Info
}

// LabInstance is one running instance on a lab page.
type LabInstance struct {
	ID      string
	Design  labs.Design
	Created time.Time
}

// LabPage is the model of /labs/{lab}.
type LabPage struct {
	Info        labs.Info
	LessonTitle string
	Fields      []labs.Field
	Values      map[string]string
	Errors      labs.FieldErrors
	Message     string
	SignedIn    bool
	Instances   []LabInstance
	Pokes       []labs.Poke
	// Picture is the URL of the lab's picture script, "" for none.
	Picture   string
	Limits    labs.Limits
	Exercises []ExerciseSummary
	// Running lists the learner's instances of every lab when a launch
	// was refused for having too many.
	Running []RunningInstance
}

func designSummary(d labs.Design) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, d[k]))
	}
	return strings.Join(parts, " · ")
}

func chartsJSON(cs []labs.Chart) string {
	b, _ := json.Marshal(cs)
	return string(b)
}

func keyJSON(k *labs.KeyNumber) string {
	if k == nil {
		return ""
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// exercisesNote ends the about fold's summary: ", exercises" when the lab
// has graded exercises.
func exercisesNote(m LabPage) string {
	if len(m.Exercises) > 0 {
		return ", exercises"
	}
	return ""
}

func pokeJSON(p labs.Poke) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func fieldMin(f labs.Field) string {
	if f.Min == nil {
		return ""
	}
	return fmt.Sprint(*f.Min)
}

func fieldMax(f labs.Field) string {
	if f.Max == nil {
		return ""
	}
	return fmt.Sprint(*f.Max)
}

func fieldStep(f labs.Field) string {
	if f.Type == labs.Float {
		return "any"
	}
	return "1"
}

func shortID(id string) string {
	if len(id) > 6 {
		return id[:6]
	}
	return id
}
