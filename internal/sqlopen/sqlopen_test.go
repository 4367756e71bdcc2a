package sqlopen

import (
	"testing"
	"time"
)

// A PostgreSQL URL gets a connect timeout unless it sets one itself.
func TestWithConnectTimeout(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@db:5432/w?sslmode=disable":                  "postgres://u:p@db:5432/w?connect_timeout=3&sslmode=disable",
		"postgresql://u@db/w":                                       "postgresql://u@db/w?connect_timeout=3",
		"postgres://u:p@db/w?connect_timeout=10":                    "postgres://u:p@db/w?connect_timeout=10",
		"host=db user=u dbname=w":                                   "host=db user=u dbname=w connect_timeout=3",
		"host=db user=u connect_timeout=1":                          "host=db user=u connect_timeout=1",
		"postgres://u:p@db/w?sslmode=disable&application_name=wb x": "postgres://u:p@db/w?application_name=wb+x&connect_timeout=3&sslmode=disable",
	} {
		if got := withConnectTimeout(in, 0); got != want {
			t.Errorf("withConnectTimeout(%q) = %q, want %q", in, got, want)
		}
	}
	// A grading's own database waits longer; a URL's own setting wins.
	if got := withConnectTimeout("postgres://u@db/w", GradingConnectTimeout); got != "postgres://u@db/w?connect_timeout=30" {
		t.Errorf("grading connect timeout: %q", got)
	}
	if got := withConnectTimeout("postgres://u@db/w?connect_timeout=5", time.Minute); got != "postgres://u@db/w?connect_timeout=5" {
		t.Errorf("the URL's own connect timeout was replaced: %q", got)
	}
}
