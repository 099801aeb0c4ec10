//! A sandbox session: one `Store` and instance kept alive for a series of requests, for hosts
//! that stream (the audit feeds a log in batches, and the module keeps the aggregated state
//! between calls).
//!
//! Every call gets the same limits as a one-shot evaluation: a fresh fuel budget, a fresh
//! deadline, the linear-memory cap (for the whole session; the module's state is bounded, and
//! each response is freed after it is read, so memory stays flat) and the wasm stack limit.
//! A trap ends the session: the instance is not trusted afterwards.

use super::{response_text, typed, Limiter, Policy, PolicyError, Ticker, MIB};
use wasmtime::{Instance, Memory, Store, TypedFunc};

/// A live instance of the policy module.
pub struct Session<'p> {
    policy: &'p Policy,
    store: Store<Limiter>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    evaluate: TypedFunc<(u32, u32), u64>,
    ticker: Ticker,
    memory_limit: u64,
    broken: bool,
    /// Calls made, fuel used by all of them.
    pub calls: u64,
    pub fuel_used: u64,
}

impl Policy {
    /// Runs `f` with a session whose memory cap suits requests of up to `max_request` bytes.
    /// `f` runs on a thread with a stack big enough for the wasm stack limit.
    pub fn with_session<R: Send>(
        &self,
        max_request: usize,
        f: impl FnOnce(&mut Session<'_>) -> R + Send,
    ) -> Result<R, PolicyError> {
        let stack = self.limits.max_wasm_stack.saturating_add(16 * MIB as usize);
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("rbac-gate-session".into())
                .stack_size(stack)
                .spawn_scoped(scope, || {
                    let mut session = Session::start(self, max_request)?;
                    Ok(f(&mut session))
                })
                .map_err(|e| PolicyError::Load(format!("cannot start evaluation thread: {e}")))?
                .join()
                .unwrap_or_else(|_| {
                    Err(PolicyError::Trap(
                        "the evaluation thread panicked".to_string(),
                    ))
                })
        })
    }
}

impl<'p> Session<'p> {
    fn start(policy: &'p Policy, max_request: usize) -> Result<Session<'p>, PolicyError> {
        let memory_limit = policy.limits.memory_for(max_request);
        let mut store = policy.new_store(memory_limit)?;
        let ticker = Ticker::start(&policy.engine, policy.limits.timeout)?;
        store.set_epoch_deadline(ticker.deadline_ticks);
        let instance = Instance::new(&mut store, &policy.module, &[])
            .map_err(|e| policy.classify(store.data().hit, memory_limit, &e))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| PolicyError::Load("the module exports no `memory`".into()))?;
        let abi: TypedFunc<(), u32> = typed(&instance, &mut store, "rbac_abi_version")?;
        let alloc = typed(&instance, &mut store, "rbac_alloc")?;
        let dealloc = typed(&instance, &mut store, "rbac_dealloc")?;
        let evaluate = typed(&instance, &mut store, "rbac_evaluate")?;
        let found = abi
            .call(&mut store, ())
            .map_err(|e| policy.classify(store.data().hit, memory_limit, &e))?;
        if found != rbac_gate_core::ABI_VERSION {
            return Err(PolicyError::AbiVersion {
                found,
                expected: rbac_gate_core::ABI_VERSION,
            });
        }
        Ok(Session {
            policy,
            store,
            memory,
            alloc,
            dealloc,
            evaluate,
            ticker,
            memory_limit,
            broken: false,
            calls: 0,
            fuel_used: 0,
        })
    }

    /// Linear memory now, in bytes.
    pub fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// One request, with a fresh fuel budget and deadline.
    pub fn call(&mut self, request: &str) -> Result<String, PolicyError> {
        if self.broken {
            return Err(PolicyError::Trap(
                "the session ended after an earlier failure".to_string(),
            ));
        }
        let result = self.call_inner(request);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn call_inner(&mut self, request: &str) -> Result<String, PolicyError> {
        let fuel = self.policy.limits.fuel;
        if let Some(fuel) = fuel {
            self.store
                .set_fuel(fuel)
                .map_err(|e| PolicyError::Load(format!("cannot set fuel: {e}")))?;
        }
        self.store.set_epoch_deadline(self.ticker.deadline_ticks);
        self.calls += 1;
        let limit = self.memory_limit;
        let policy = self.policy;
        let classify = |store: &Store<Limiter>, e: wasmtime::Error| -> PolicyError {
            policy.classify(store.data().hit, limit, &e)
        };
        let len = u32::try_from(request.len()).map_err(|_| PolicyError::MemoryCap { limit })?;
        let ptr = self
            .alloc
            .call(&mut self.store, len)
            .map_err(|e| classify(&self.store, e))?;
        if ptr == 0 && len > 0 {
            return Err(if self.store.data().hit {
                PolicyError::MemoryCap { limit }
            } else {
                PolicyError::Abi(format!("rbac_alloc({len}) returned a null pointer"))
            });
        }
        self.memory
            .write(&mut self.store, ptr as usize, request.as_bytes())
            .map_err(|_| {
                PolicyError::Abi(format!(
                    "rbac_alloc({len}) returned {ptr:#x}, outside the module's memory"
                ))
            })?;
        let packed = self
            .evaluate
            .call(&mut self.store, (ptr, len))
            .map_err(|e| classify(&self.store, e));
        if let Some(fuel) = fuel {
            self.fuel_used += fuel.saturating_sub(self.store.get_fuel().unwrap_or(0));
        }
        let packed = packed?;
        let text = response_text(self.memory.data(&self.store), packed, "rbac_evaluate")?;
        // The response buffer is the module's: free it so a long session stays flat.
        let (out_ptr, out_len) = ((packed >> 32) as u32, (packed & 0xffff_ffff) as u32);
        self.dealloc
            .call(&mut self.store, (out_ptr, out_len))
            .map_err(|e| classify(&self.store, e))?;
        Ok(text)
    }
}
