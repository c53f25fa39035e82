// Moved to src/core (pure parsing, used by the store too); kept so imports from src/sync keep working.
export * from '../core/identity-user.js';
