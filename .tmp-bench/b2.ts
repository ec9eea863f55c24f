import { run } from '../bench/deadline.ts';
