package app

import (
	"context"
	"testing"
	"time"

	"github.com/golang/mock/gomock"

	"github.com/tokencache/tokencache/domain"
)

// A waiter checks the holder's child found in the repository against rule
// 4's cut-off as of its own now, which is capped at the parent's expiry: a
// child that expires with its parent, and did between the holder's read
// and the waiter's check (here, while the holder's rollback took its
// time), meets it. It has expired, and must not be handed out, as the
// waiter's own read (the cache rule, or the token store in rule 4) would
// not hand it out.
func TestRule6WaiterTakesNoChildThatExpiredSinceTheHolderReadIt(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	p.Expires = specLifeFrom.Add(3 * time.Second) // the parent, and so its children, expire in 2.5 s
	capped := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow.Add(-time.Hour), time.Hour+3*time.Second)
	if !capped.Expires.Equal(p.Expires) {
		t.Fatal("the child should expire with its parent")
	}
	entered, release := make(chan struct{}), make(chan struct{})
	holdBegin(f, entered, release)
	f.tx.EXPECT().FindChild(gomock.Any(), gomock.Any()).Return(capped.Token.Key, nil)
	f.store.EXPECT().GetByKey(gomock.Any(), capped.Token.Key).Return(capped, nil) // alive at the read
	rollback, rolledBack := make(chan struct{}), make(chan struct{})
	f.tx.EXPECT().Rollback(gomock.Any()).DoAndReturn(func(context.Context) error {
		close(rollback)
		<-rolledBack // a slow rollback (rollbackBriefly allows 500 ms)
		return nil
	})
	// Whatever the waiter does on its own: the child has expired by then.
	f.repo.EXPECT().BeginDeferred(gomock.Any(), gomock.Any()).Return(nil, errUnreachable).AnyTimes()
	f.store.EXPECT().Get(gomock.Any(), gomock.Any()).Return(domain.TokenData{}, errNotFoundSpec).AnyTimes()

	request := func() (domain.Token, error) {
		return f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	}
	_, ws := startHerd(t, f, entered, request, request)
	close(release)
	<-rollback
	f.clock.Set(p.Expires.Add(500 * time.Millisecond)) // child and parent have expired
	close(rolledBack)
	r := <-ws[0]
	if r.err == nil && r.token == capped.Token {
		t.Fatalf("the waiter was handed child %s, which expired %v before the waiter took it",
			r.token.Key, f.clock.Now().Sub(capped.Expires))
	}
}
