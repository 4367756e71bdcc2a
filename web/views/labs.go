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

// Poke is a ready-made request a lab page offers.
type Poke struct {
	Label  string
	Method string
	// Path is relative to the instance; {name} is filled from Params.
	Path   string
	Params []PokeParam
	// Body is the JSON body, editable before sending.
	Body string
	Help string
}

// PokeParam is an editable value of a poke's path.
type PokeParam struct {
	Name  string
	Value string
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
	Pokes       []Poke
	Limits      labs.Limits
	Exercises   []ExerciseSummary
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

func pokeJSON(p Poke) string {
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
