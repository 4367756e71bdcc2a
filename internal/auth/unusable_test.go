package auth

import "testing"

func TestUnusableHash(t *testing.T) {
	h := UnusableHash()
	if h == UnusableHash() {
		t.Fatal("two unusable hashes are equal")
	}
	for _, pw := range []string{"", "correct horse battery", h} {
		ok, err := NewHasher(1, 0).Verify(h, pw)
		if err != nil || ok {
			t.Errorf("Verify(unusable, %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}
