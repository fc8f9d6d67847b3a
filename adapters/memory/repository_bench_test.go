package memory_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/memory"
	"github.com/tokencache/tokencache/domain"
)

// BenchmarkRepositoryFindChild looks up one internal child of a parent that
// has many others, one per service, as a client naming a new delegate_to
// on every request leaves behind. The cost of a lookup must not grow with
// the parent's other children.
func BenchmarkRepositoryFindChild(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("children=%d", n), func(b *testing.B) {
			ctx := context.Background()
			repo := memory.NewRepository()
			now := time.Now().UTC().Truncate(time.Second)
			parent := benchToken(b, domain.TokenData{Username: "bench", Type: domain.TokenTypeSession,
				Scopes: []string{"read:all"}, Created: now, Expires: now.Add(24 * time.Hour)})
			recs := []domain.TokenRecord{{Data: parent, Actor: "bench"}}
			for i := range n {
				child := benchToken(b, domain.TokenData{Username: "bench", Type: domain.TokenTypeInternal,
					Service: fmt.Sprintf("service-%d", i), Scopes: []string{"read:all"},
					Created: now, Expires: now.Add(time.Hour)})
				recs = append(recs, domain.TokenRecord{Data: child, ParentKey: parent.Token.Key, Actor: "bench"})
			}
			benchAdd(b, repo, recs)
			q := domain.ChildQuery{ParentKey: parent.Token.Key, Type: domain.TokenTypeInternal,
				Service: fmt.Sprintf("service-%d", n/2), Scopes: []string{"read:all"}, MinExpiration: now}
			tx, err := repo.Begin(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = tx.Rollback(ctx) })
			b.ResetTimer()
			for range b.N {
				if _, err := tx.FindChild(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchToken is data with a fresh random token.
func benchToken(b *testing.B, data domain.TokenData) domain.TokenData {
	b.Helper()
	tok, err := domain.NewToken(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	data.Token = tok
	return data
}

// benchAdd commits recs in one unit of work.
func benchAdd(b *testing.B, repo *memory.Repository, recs []domain.TokenRecord) {
	b.Helper()
	ctx := context.Background()
	tx, err := repo.Begin(ctx, "bench-add")
	if err != nil {
		b.Fatal(err)
	}
	for _, rec := range recs {
		if err := tx.AddToken(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}
