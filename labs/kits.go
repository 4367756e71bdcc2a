package labs

import (
	"fmt"
	"io/fs"
	"path"
	"testing/fstest"
)

// KitModFile is the name a Go starter kit's go.mod has in the source
// tree. go:embed cannot hold a directory with a go.mod in it (that
// directory is a module of its own, outside the lab's), so a kit keeps its
// module file under this name and StarterKits serves it as go.mod.
const KitModFile = "go.mod.kit"

// StarterKits is the starter kits embedded in fsys (a directory per
// language: "go/…", "python/…") as Build.Starters wants them: every
// KitModFile is served as go.mod. It reads the kits once; fsys is
// embedded, so a failure to read it is a programming error and panics.
func StarterKits(fsys fs.FS) fs.FS {
	out := fstest.MapFS{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if path.Base(name) == KitModFile {
			name = path.Join(path.Dir(name), "go.mod")
		}
		out[name] = &fstest.MapFile{Data: b, Mode: 0o644}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("labs: reading starter kits: %v", err))
	}
	return out
}
