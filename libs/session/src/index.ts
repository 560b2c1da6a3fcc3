export * from './session.context';
