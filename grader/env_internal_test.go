package grader

import "testing"

func TestProductNamesTheVersion(t *testing.T) {
	for image, want := range map[string]string{
		"redis:7":                           "Redis 7",
		"workbook-local/redis:7":            "Redis 7",
		"redis:7.2-alpine":                  "Redis 7.2",
		"registry.example.org:5000/redis":   "Redis",
		"redis":                             "Redis",
		"redis:latest":                      "Redis",
		"redis:7@sha256:0123456789abcdef":   "Redis 7",
		"registry.example.org:5000/redis:7": "Redis 7",
	} {
		if got := product("Redis", image); got != want {
			t.Errorf("product(%q) = %q, want %q", image, got, want)
		}
	}
}
