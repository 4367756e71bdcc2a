package labs

import (
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
)

// A kit's module file is served as go.mod and nothing else is renamed or
// lost.
func TestStarterKitsServeTheModuleFileAsGoMod(t *testing.T) {
	src := fstest.MapFS{
		"go/main.go":        {Data: []byte("package main\n")},
		"go/" + KitModFile:  {Data: []byte("module example.org/x\n")},
		"go/go.sum":         {Data: []byte("")},
		"python/app.py":     {Data: []byte("print(1)\n")},
		"python/" + "x.kit": {Data: []byte("kept")},
	}
	kits := StarterKits(src)
	var names []string
	if err := fs.WalkDir(kits, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, name)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"go/go.mod", "go/go.sum", "go/main.go", "python/app.py", "python/x.kit"}
	if !slices.Equal(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	if b, err := fs.ReadFile(kits, "go/go.mod"); err != nil || string(b) != "module example.org/x\n" {
		t.Errorf("go.mod: %q %v", b, err)
	}
}
