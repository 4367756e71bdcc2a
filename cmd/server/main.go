// Command server is the System Design Workbook: the web server by default,
// and the migrate and admin commands an operator needs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// Certificate authorities built in, used when the machine has none (an
	// image FROM scratch): TLS to PostgreSQL, Redis or the mail server
	// works in any image.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
