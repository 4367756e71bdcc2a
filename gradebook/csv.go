package gradebook

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteCSV writes the gradebook as spreadsheets and LMS gradebooks import
// it: a header row, a "Points possible" row, then one row per learner keyed
// by email; an empty cell is no score.
func (b Book) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"Email"}
	points := []string{"Points possible"}
	for _, c := range b.Columns {
		head = append(head, fmt.Sprintf("%s (%s)", c.Title, c.Ref))
		points = append(points, strconv.Itoa(c.Max))
	}
	head = append(head, "Total", "Lessons completed", "Quiz average (%)", "Review streak (days)")
	points = append(points, strconv.Itoa(b.totalMax()), strconv.Itoa(b.Lessons), "100", "")
	for _, l := range b.Ladders {
		head = append(head, l.Title+" step reached")
		points = append(points, strconv.Itoa(l.Steps))
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	if err := cw.Write(points); err != nil {
		return err
	}
	for _, r := range b.Rows {
		line := []string{safeCell(r.Email)}
		for _, c := range r.Cells {
			v := ""
			if c.Score != nil {
				v = strconv.Itoa(*c.Score)
			}
			line = append(line, v)
		}
		line = append(line, strconv.Itoa(r.Total), strconv.Itoa(r.Lessons), strconv.Itoa(r.QuizAverage), strconv.Itoa(r.Streak))
		for _, l := range b.Ladders {
			line = append(line, strconv.Itoa(r.StepReached[l.Lab]))
		}
		if err := cw.Write(line); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (b Book) totalMax() int {
	n := 0
	for _, c := range b.Columns {
		n += c.Max
	}
	return n
}

// safeCell keeps a spreadsheet from reading a value as a formula.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
