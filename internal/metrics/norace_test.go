//go:build !race

package metrics

// raceEnabled: the race detector is on (it allocates on its own).
const raceEnabled = false
