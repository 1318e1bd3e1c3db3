/**
 * Picks the store for a registry location. The location says which backend
 * (a path is a JSON file); nothing is sniffed from the environment.
 */
import { InputError } from '../errors.js';
import { JsonStore } from './json-store.js';
import type { RegistryStore } from './store.js';

export function openStore(location: string): RegistryStore {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new InputError(`registry ${location.replace(/\/\/[^@/]*@/, '//***@')}: URL registries are not supported by this build; use a file path`);
  }
  return new JsonStore({ path: location });
}
