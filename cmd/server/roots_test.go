package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"testing"
)

// A machine without certificate authorities (an image FROM scratch, or
// none installed) still verifies a public CA's certificate: the server
// carries Mozilla's roots as a fallback. The check runs in a child process
// that sees no system roots at all.
func TestTLSWorksWithoutSystemRoots(t *testing.T) {
	if pemFile := os.Getenv("WORKBOOK_TEST_VERIFY_ROOT"); pemFile != "" {
		b, err := os.ReadFile(pemFile)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{}); err != nil {
			t.Fatalf("no system roots: %v", err)
		}
		return
	}
	root := "/etc/ssl/certs/ISRG_Root_X1.pem" // a public CA's root, from Debian's ca-certificates
	if _, err := os.Stat(root); err != nil {
		t.Skipf("no %s to verify: %v", root, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTLSWorksWithoutSystemRoots$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WORKBOOK_TEST_VERIFY_ROOT="+root,
		"SSL_CERT_FILE="+os.DevNull, "SSL_CERT_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
