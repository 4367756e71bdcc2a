package shop

import (
	"context"
	"net/http"
	"time"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// inboxSweepEvery is how often, on the shop's clock, inbox rows older than
// dedup_retention_ms are deleted.
const inboxSweepEvery = 100 * time.Millisecond

// sweepInbox deletes the inbox rows older than dedup_retention_ms: from
// then on a copy of such a message is processed as a new one.
func (in *instance) sweepInbox(ctx context.Context) {
	for in.pace.sleep(ctx, in.pace.toTick(inboxSweepEvery)) == nil {
		cutoff := in.now().Add(-in.cfg.dedupRetention).UnixMilli()
		res, err := in.env.DB.ExecContext(ctx, in.env.Rebind(`DELETE FROM shop_lab_inbox WHERE instance = ? AND at_ms < ?`), in.env.Instance, cutoff)
		if err != nil {
			if ctx.Err() == nil {
				in.logf("inbox", "error", "could not sweep the inbox: %v", err)
			}
			continue
		}
		if n, err := res.RowsAffected(); err == nil && n > 0 {
			in.inboxSwept.Add(n)
		}
	}
}

// inboxRows counts the message ids the services remember.
func (in *instance) inboxRows(ctx context.Context) (int64, error) {
	var n int64
	err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT COUNT(*) FROM shop_lab_inbox WHERE instance = ?`), in.env.Instance).Scan(&n)
	return n, err
}

// InboxView is GET inbox: how many message ids the services remember.
type InboxView struct {
	Rows        int64 `json:"rows"`
	Swept       int64 `json:"swept"`
	RetentionMS int64 `json:"retention_ms"` // 0: kept forever
}

func (in *instance) handleInbox(w http.ResponseWriter, r *http.Request) error {
	n, err := in.inboxRows(r.Context())
	if err != nil {
		return failure("count the inbox", err)
	}
	labhttp.WriteJSON(w, http.StatusOK, InboxView{Rows: n, Swept: in.inboxSwept.Load(), RetentionMS: in.cfg.dedupRetention.Milliseconds()})
	return nil
}
