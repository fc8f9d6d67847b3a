package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TokenLifetime != 720*time.Hour || cfg.CacheSize != 5000 {
		t.Fatalf("defaults = %v, %d; want 720h, 5000", cfg.TokenLifetime, cfg.CacheSize)
	}
}

func TestConfigAcceptsTwiceTheMinimumLifetime(t *testing.T) {
	if _, _, err := InitializeInMemory(Config{TokenLifetime: 2 * domain.MinimumLifetime}); err != nil {
		t.Fatalf("InitializeInMemory: %v", err)
	}
}

func TestConfigRejectsOutOfRange(t *testing.T) {
	for name, cfg := range map[string]Config{
		"LifetimeNotAboveMinimum": {TokenLifetime: domain.MinimumLifetime},
		// Gafaelfawr refuses under twice the minimum lifetime: below it,
		// every child request with the default minimum would be refused.
		"LifetimeUnderTwiceTheMinimum": {TokenLifetime: 2*domain.MinimumLifetime - time.Second},
		"NegativeLifetime":             {TokenLifetime: -time.Hour},
		"FractionalLifetime":           {TokenLifetime: time.Hour + time.Millisecond},
		"NegativeCacheSize":            {CacheSize: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := InitializeInMemory(cfg); err == nil {
				t.Fatal("InitializeInMemory accepted it")
			}
		})
	}
}

func TestInitializeInMemoryServes(t *testing.T) {
	svc, cleanup, err := InitializeInMemory(Config{TokenLifetime: time.Hour, CacheSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	// The parent is in neither store, so the repository refuses the child
	// and the token store is left clean.
	p := parent(t)
	p.Expires = time.Now().Add(time.Hour).Truncate(time.Second)
	_, err = svc.GetNotebookToken(context.Background(), p, "192.0.2.1", 0)
	if !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("child of an unknown parent: %v, want ErrInvalidToken", err)
	}
}

func TestConfigCheck(t *testing.T) {
	if err := (Config{}).Check(); err != nil {
		t.Errorf("the zero Config: %v, want nil (every field defaults)", err)
	}
	for name, cfg := range map[string]Config{
		"short lifetime":      {TokenLifetime: 5 * time.Minute},
		"fractional lifetime": {TokenLifetime: 10*time.Minute + time.Millisecond},
		"negative cache":      {CacheSize: -1},
		"negative timeout":    {CreationTimeout: -time.Second},
	} {
		if err := cfg.Check(); err == nil {
			t.Errorf("%s: Check passed", name)
		}
	}
}
