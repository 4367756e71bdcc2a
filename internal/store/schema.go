package store

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"gorm.io/gorm/schema"
)

// CheckSchema compares every model with the migrated tables: each model
// field must have a column and each column a field. It catches a migration
// and a model drifting apart in either dialect.
func (s *Store) CheckSchema() error {
	var problems []string
	for _, m := range Models() {
		sch, err := schema.Parse(m, &sync.Map{}, s.db.NamingStrategy)
		if err != nil {
			return err
		}
		cols, err := s.db.Migrator().ColumnTypes(m)
		if err != nil {
			return fmt.Errorf("table %s: %w", sch.Table, err)
		}
		have := map[string]bool{}
		for _, c := range cols {
			have[c.Name()] = true
		}
		want := map[string]bool{}
		for _, f := range sch.Fields {
			if f.DBName == "" {
				continue
			}
			want[f.DBName] = true
			if !have[f.DBName] {
				problems = append(problems, fmt.Sprintf("%s.%s: model field has no column", sch.Table, f.DBName))
			}
		}
		for c := range have {
			if !want[c] {
				problems = append(problems, fmt.Sprintf("%s.%s: column has no model field", sch.Table, c))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("schema and models differ:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
