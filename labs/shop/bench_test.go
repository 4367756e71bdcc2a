package shop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs/labtest"
)

// BenchmarkPlaceOrder measures POST orders' transaction with the outbox and
// with a dual write, against a baseline measured in the same run: a bare
// one-row INSERT in a transaction on the same database. It reports each as
// a ratio of the baseline; the consumers are stopped so only the placement
// is measured.
func BenchmarkPlaceOrder(b *testing.B) {
	for _, e := range labtest.Envs(b, "benchplace") {
		b.Run(e.Name, func(b *testing.B) {
			ctx := context.Background()
			env := e.Env
			if _, err := env.DB.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS shop_lab_bench (instance TEXT NOT NULL, n BIGINT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				_, _ = env.DB.ExecContext(ctx, env.Rebind(`DELETE FROM shop_lab_bench WHERE instance = ?`), env.Instance)
			})
			baseline := func(n int) time.Duration {
				start := time.Now()
				for i := range n {
					tx, err := env.DB.BeginTx(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := tx.ExecContext(ctx, env.Rebind(`INSERT INTO shop_lab_bench (instance, n) VALUES (?, ?)`), env.Instance, i); err != nil {
						b.Fatal(err)
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(start)
			}
			for _, outbox := range []bool{true, false} {
				b.Run(fmt.Sprint("outbox=", outbox), func(b *testing.B) {
					in := launch(b, withID(env, fmt.Sprint("benchplace", outbox)), fast(map[string]any{"outbox": outbox, "initial_stock": 100000}))
					for _, s := range in.svcs {
						for _, c := range s.consumers {
							c.killNow()
						}
					}
					if in.relay != nil {
						in.relay.stop()
					}
					base := baseline(200)
					b.ResetTimer()
					start := time.Now()
					for i := range b.N {
						if _, err := in.placeOrder(ctx, i%len(Catalogue)+1, 1, ""); err != nil {
							b.Fatal(err)
						}
					}
					took := time.Since(start)
					b.StopTimer()
					b.ReportMetric(float64(took)/float64(b.N)/(float64(base)/200), "x_bare_insert")
				})
			}
		})
	}
}
