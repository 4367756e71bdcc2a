package labtest

import (
	"os/exec"
	"runtime"
	"sync"
	"testing"
)

// LoadMachine keeps the machine busy with perCore busy processes per core
// (other work on a grading machine, outside the Go scheduler and the
// services' containers alike) until stop is called or the test ends.
func LoadMachine(tb testing.TB, perCore int) (stop func()) {
	tb.Helper()
	var procs []*exec.Cmd
	for range perCore * runtime.NumCPU() {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, p := range procs {
				_ = p.Process.Kill()
				_ = p.Wait()
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}
