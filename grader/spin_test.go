package grader_test

import (
	"os"
	"strconv"
)

// spinEnv makes the test binary a busy process: load for the stability
// test, from outside the Go scheduler, as other work on a grader would be.
// Its value is the test process's pid.
const spinEnv = "GRADER_TEST_SPIN"

// spinSink keeps the busy loop's work from being optimised away.
var spinSink int

// spinChild spins when the test binary was started as a busy process,
// until it is killed or the test process that started it is gone (a test
// that timed out ends without its cleanups; its busy processes must not
// outlive it).
func spinChild() bool {
	v := os.Getenv(spinEnv)
	if v == "" {
		return false
	}
	parent, _ := strconv.Atoi(v)
	for {
		for i := 0; i < 1<<24; i++ {
			spinSink++
		}
		if os.Getppid() != parent {
			os.Exit(0)
		}
	}
}
