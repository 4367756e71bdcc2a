package shop

import (
	"net/http"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs/labtest"
)

// The inbox remembers the ids of processed messages: forever with
// dedup_retention_ms 0, and for that long otherwise, after which the
// sweeper deletes them. Both backends.
func TestInboxRetention(t *testing.T) {
	for _, e := range labtest.Envs(t, "inbox") {
		t.Run(e.Name, func(t *testing.T) {
			kept := launch(t, withID(e.Env, "inboxkept"), fast(nil))
			swept := launch(t, withID(e.Env, "inboxswept"), fast(map[string]any{"dedup_retention_ms": 300}))
			for _, in := range []*instance{kept, swept} {
				for range 3 {
					waitOrder(t, in, place(t, in, 1, 1), 5*time.Second)
				}
				quiet(t, in)
			}
			if v := callJSON[InboxView](t, kept, http.MethodGet, "inbox", nil, nil, http.StatusOK); v.Rows < 3*4 || v.Swept != 0 || v.RetentionMS != 0 {
				t.Errorf("inbox kept forever: %+v, want at least 4 ids per order and none swept", v)
			}
			waitFor(t, 10*time.Second, "the inbox to be swept", func() bool {
				v := callJSON[InboxView](t, swept, http.MethodGet, "inbox", nil, nil, http.StatusOK)
				return v.Rows == 0 && v.Swept >= 3*4 && v.RetentionMS == 300
			})
			st := callJSON[State](t, swept, http.MethodGet, "stats", nil, nil, http.StatusOK)
			if st.Messages.InboxRows != 0 || st.Messages.InboxSwept < 3*4 {
				t.Errorf("stats: %+v", st.Messages)
			}
		})
	}
}
