package store

import "context"

// GradingCounts counts every submission by status, and the jobs of the
// grading queue (named queue) by state, for the operator's metrics.
func (s *Store) GradingCounts(ctx context.Context, queue string) (submissions, jobs map[string]int64, err error) {
	type row struct {
		Key string
		N   int64
	}
	var subs, js []row
	err = s.db.WithContext(ctx).Model(&Submission{}).Select("status AS key, COUNT(*) AS n").Group("status").Scan(&subs).Error
	if err != nil {
		return nil, nil, mapErr(err, "submissions")
	}
	err = s.db.WithContext(ctx).Table("river_job").Select("state AS key, COUNT(*) AS n").
		Where("queue = ?", queue).Group("state").Scan(&js).Error
	if err != nil {
		return nil, nil, mapErr(err, "grading jobs")
	}
	submissions, jobs = make(map[string]int64, len(subs)), make(map[string]int64, len(js))
	for _, r := range subs {
		submissions[r.Key] = r.N
	}
	for _, r := range js {
		jobs[r.Key] = r.N
	}
	return submissions, jobs, nil
}
