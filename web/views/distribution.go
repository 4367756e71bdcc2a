package views

import (
	"fmt"
	"strconv"

	"github.com/sdworkbook/workbook/gradebook"
)

// distBar is one bar of an assignment's score distribution, placed in a
// 240 × 96 chart: ten bars of 20 over 24 each, up to 64 high.
type distBar struct {
	X, Y, H int
	Title   string
}

const distBarMax = 64

func distBars(d gradebook.Distribution) []distBar {
	most := d.Most()
	bars := make([]distBar, len(d.Bins))
	for i, n := range d.Bins {
		h := n * distBarMax / most
		if n > 0 {
			h = max(h, 2) // one learner is still a visible bar
		}
		lo, hi := i*10, i*10+9
		if i == 9 {
			hi = 100
		}
		bars[i] = distBar{X: 2 + i*24, Y: 8 + distBarMax - h, H: h,
			Title: fmt.Sprintf("%d–%d%%: %s", lo, hi, learners(n))}
	}
	return bars
}

// distSummary says in a sentence what the chart shows, for its caption
// and for readers who do not see it.
func distSummary(d gradebook.Distribution) string {
	s := fmt.Sprintf("Scored: %d of %s", d.Scored(), learners(d.Scored()+d.None))
	if d.Median >= 0 {
		s += fmt.Sprintf(", median %d / %d", d.Median, d.Column.Max)
	}
	return s + "."
}

// distLabel is the chart's text alternative: every bin's count.
func distLabel(d gradebook.Distribution) string {
	s := "Scores of " + d.Column.Title + " by tenth of the points:"
	for i, n := range d.Bins {
		if i > 0 {
			s += ","
		}
		s += " " + strconv.Itoa(i*10) + "%+ " + strconv.Itoa(n)
	}
	return s + "; no score yet " + strconv.Itoa(d.None) + "."
}

func learners(n int) string {
	if n == 1 {
		return "1 learner"
	}
	return strconv.Itoa(n) + " learners"
}
