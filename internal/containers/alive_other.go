//go:build !unix

package containers

// processAlive cannot tell here, so it says yes: a grader's containers are
// then removed only once their deadline has passed.
func processAlive(pid int) bool { return true }
