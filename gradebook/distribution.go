package gradebook

// Distribution is how a class's learners stand on one assignment: how
// many scored in each tenth of its points (the last bin holds full
// marks with 90% and over), and how many have nothing that counts yet.
type Distribution struct {
	Column Column
	Bins   [10]int
	None   int
	// Median is the median score in points of those who have one (-1
	// when nobody has).
	Median int
}

// Most is the largest bin, at least 1 (a chart's scale).
func (d Distribution) Most() int {
	m := 1
	for _, n := range d.Bins {
		m = max(m, n)
	}
	return m
}

// Scored is how many learners have a score that counts.
func (d Distribution) Scored() int {
	n := 0
	for _, b := range d.Bins {
		n += b
	}
	return n
}

// Distributions describes every assignment of b over all its rows; call
// it before Filter, so a filtered page still shows the whole class.
func (b Book) Distributions() []Distribution {
	out := make([]Distribution, len(b.Columns))
	for i, col := range b.Columns {
		d := Distribution{Column: col, Median: -1}
		var scores []int
		for _, r := range b.Rows {
			if i >= len(r.Cells) || r.Cells[i].Score == nil {
				d.None++
				continue
			}
			s := *r.Cells[i].Score
			scores = append(scores, s)
			d.Bins[bin(s, col.Max)]++
		}
		if len(scores) > 0 {
			d.Median = median(scores)
		}
		out[i] = d
	}
	return out
}

// bin is the tenth of max that score falls in, 0 to 9.
func bin(score, max int) int {
	if max <= 0 || score <= 0 {
		return 0
	}
	return min(9, score*10/max)
}

// median of scores (the lower middle one of an even count).
func median(scores []int) int {
	s := append([]int(nil), scores...)
	for i := 1; i < len(s); i++ { // a class is small: insertion sort
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[(len(s)-1)/2]
}
