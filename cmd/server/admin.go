package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sdworkbook/workbook/internal/app"
	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
)

const adminUsage = `server admin: usage:
  server admin create-user --email E --password-file F [--role learner|instructor|admin]
  server admin reset-password --email E --password-file F     (or: reset-password E --password-file F)
The password is read from the file (- for standard input), never from the command line.`

// admin runs an operator command against the database.
func admin(ctx context.Context, cfg config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, adminUsage)
		return exitConfig
	}
	switch args[0] {
	case "create-user":
		return createUser(ctx, cfg, args[1:], stdin, stdout, stderr)
	case "reset-password":
		return resetPassword(ctx, cfg, args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "server admin: unknown command %q\n%s\n", args[0], adminUsage)
	return exitConfig
}

// readPassword reads the password file (- for stdin) and checks the email
// and the password against the registration rules, printing what is wrong.
func readPassword(email, file string, stdin io.Reader, stderr io.Writer) (auth.Credentials, bool) {
	if file == "" {
		fmt.Fprintln(stderr, "server admin: --password-file is required (the password never goes on the command line)")
		return auth.Credentials{}, false
	}
	var raw []byte
	var err error
	if file == "-" {
		raw, err = io.ReadAll(io.LimitReader(stdin, 4096))
	} else {
		raw, err = os.ReadFile(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "server admin: reading the password: %v\n", err)
		return auth.Credentials{}, false
	}
	creds, errs := auth.ParseRegistration(email, strings.TrimRight(string(raw), "\r\n"))
	for _, f := range []string{"email", "password"} {
		if m := errs[f]; m != "" {
			fmt.Fprintf(stderr, "server admin: %s: %s\n", f, m)
		}
	}
	return creds, len(errs) == 0
}

func createUser(ctx context.Context, cfg config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("create-user", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "email address of the new account")
	pwFile := fs.String("password-file", "", "file holding the password (- for standard input)")
	roleName := fs.String("role", "learner", "learner, instructor or admin")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	role, ok := store.ParseRole(*roleName)
	if !ok {
		fmt.Fprintf(stderr, "server admin: --role %q is not learner, instructor or admin\n", *roleName)
		return exitConfig
	}
	creds, ok := readPassword(*email, *pwFile, stdin, stderr)
	if !ok {
		return exitConfig
	}
	return withPassword(ctx, cfg, creds, stderr, func(st *store.Store, hash string) error {
		u, err := st.CreateUser(ctx, creds.Email, hash, role)
		if err == nil {
			fmt.Fprintf(stdout, "created %s account %s (id %d)\n", u.Role, u.Email, u.ID)
		}
		return err
	})
}

// withPassword opens the store, hashes creds' password and hands both to
// do; it reports do's error, or the store's, and returns the exit code.
func withPassword(ctx context.Context, cfg config.Config, creds auth.Credentials, stderr io.Writer, do func(st *store.Store, hash string) error) int {
	log := newLogger(cfg, stderr)
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		log.Error("database unavailable", "err", err)
		return exitFail
	}
	defer st.Close()
	hash, err := auth.HashPassword(creds.Password)
	if err == nil {
		err = do(st, hash)
	}
	if err != nil {
		fmt.Fprintf(stderr, "server admin: %v\n", err)
		return exitFail
	}
	return exitOK
}

// resetPassword sets an account's password and ends its sessions, for an
// operator helping someone locked out (or cleaning up after a leak).
func resetPassword(ctx context.Context, cfg config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reset-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "email address of the account")
	pwFile := fs.String("password-file", "", "file holding the new password (- for standard input)")
	// The email may come first, without a flag: reset-password ada@example.org --password-file pw.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		*email, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "server admin: unexpected %q\n%s\n", fs.Arg(0), adminUsage)
		return exitConfig
	}
	creds, ok := readPassword(*email, *pwFile, stdin, stderr)
	if !ok {
		return exitConfig
	}
	return withPassword(ctx, cfg, creds, stderr, func(st *store.Store, hash string) error {
		u, err := st.UserByEmail(ctx, creds.Email)
		if apperr.Is(err, apperr.NotFound) {
			return fmt.Errorf("no account has the email %s", creds.Email)
		}
		if err == nil {
			err = st.SetPassword(ctx, u.ID, hash)
		}
		if err == nil {
			fmt.Fprintf(stdout, "password of %s reset; every session of the account has ended (its access tokens still work: revoke them on its account page)\n", u.Email)
		}
		return err
	})
}
