package labs

import (
	"io/fs"
	"slices"
)

// The kinds of exercise.
const (
	// KindDesign: the learner picks a design of the lab's own
	// implementation; the grader runs it in process.
	KindDesign = "design"
	// KindBuild: the learner writes the service; the grader builds it
	// from an archive and runs it in sandboxed containers beside real
	// Redis and PostgreSQL, and the same checks judge it over HTTP.
	KindBuild = "build"
)

// The languages a build exercise may be written in.
const (
	LangGo     = "go"
	LangPython = "python"
)

// Languages are the languages every build exercise offers, in the order
// pages show them.
var Languages = []string{LangGo, LangPython}

// Build is the contract of a build exercise: what the learner's service
// must do and what the grader gives it. An Exercise with a Build is a
// build exercise; its Checks judge the service through a Launcher.
type Build struct {
	// Replicas is how many copies of the service the checks reach by
	// default, round-robin behind one address (a check may ask for more
	// or fewer with the change "replicas").
	Replicas int
	// Redis, Postgres and Downstream say what the service is given:
	// REDIS_URL, DATABASE_URL and DOWNSTREAM_URL.
	Redis, Postgres, Downstream bool
	// Env is the contract's own environment (QUOTA_LIMIT=…), beside the
	// variables every service gets (PORT, REPLICA_ID and the above).
	Env map[string]string
	// Contract documents the routes, status codes and environment, one
	// paragraph or list item per entry (Markdown), as the exercise page
	// and the starter kits' README show it.
	Contract []string
	// Starters holds the starter kits: a directory per language
	// ("go/…", "python/…"), each a service that builds offline on the
	// offered base image, starts, answers the contract and fails the
	// interesting checks the way the lessons teach.
	Starters fs.FS
}

// Kind is KindBuild for an exercise with a Build, else KindDesign.
func (e Exercise) Kind() string {
	if e.Build != nil {
		return KindBuild
	}
	return KindDesign
}

// Offers reports whether the exercise may be written in lang.
func (e Exercise) Offers(lang string) bool {
	return e.Build != nil && slices.Contains(Languages, lang)
}
