package shop

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// TestPurgeSettlesAnOrphanedShop: a shop whose replica stopped with an
// order half done (stock reserved, payment never taken) has that order
// cancelled and its stock released, so the stock adds up with nothing
// reserved; then Purge leaves no key and no row.
func TestPurgeSettlesAnOrphanedShop(t *testing.T) {
	for _, e := range labtest.Envs(t, "purge") {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			env := withID(e.Env, "orphan")
			in := launch(t, env, fast(map[string]any{"consumers": 1}))
			callJSON[KillResult](t, in, http.MethodPost, "consumers/payment/kill?at=now", nil, nil, http.StatusOK)
			id := place(t, in, 2, 3)
			waitFor(t, 10*time.Second, "the order's stock to be reserved", func() bool { return stockOf(t, in, 2).Reserved == 3 })

			orders, units, err := in.settleOrphan(ctx)
			if err != nil || orders != 1 || units != 3 {
				t.Fatalf("settled %d orders and %d units (%v), want 1 and 3", orders, units, err)
			}
			st := stockOf(t, in, 2)
			if st.Reserved != 0 || st.Sold != 0 || st.Available != st.Initial {
				t.Fatalf("stock after settling: %+v, want all of it available", st)
			}
			if v := callJSON[OrderView](t, in, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK); v.Status != StatusCancelled || v.Reason != orphanReason {
				t.Fatalf("the pending order is %s (%s), want cancelled", v.Status, v.Reason)
			}

			in.cancel() // its background work stops, as a stopped replica's did
			in.wg.Wait()
			if err := Lab.(labs.Purger).Purge(ctx, env); err != nil {
				t.Fatal(err)
			}
			assertGone(t, env)
		})
	}
}
